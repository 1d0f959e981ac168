"""What fuzzing found (tests/fuzz/README.md lists it): each input that once crashed a parser,
through the parser's real entry point, now one documented error or finding. The inputs also
stay in tests/fuzz/corpus/<target>/regression-*."""

from __future__ import annotations

import io
import json
import os
import pickle
import sqlite3
import zipfile
from pathlib import Path

import pytest

from chainguard.advisories.osv import read_advisories
from chainguard.attest.cache import CACHE_FILE, open_hash_cache
from chainguard.collectors.procfs import parse_maps
from chainguard.collectors.requirements import collect_requirements
from chainguard.config import load_config
from chainguard.errors import AdvisoryError, ConfigError, InputError, LockfileError, ProcessError
from chainguard.formats.pickles import analyse_file
from chainguard.trust.keys import generate_keypair


@pytest.mark.parametrize(
    ("dev", "mac"),
    [
        ("X'00'", "'" + "0" * 64 + "'"),  # a BLOB: the MAC over it raised TypeError
        ("1", "'é'"),  # a non-ASCII MAC: compare_digest raised TypeError
        ("1", "CAST(X'ff80' AS TEXT)"),  # TEXT that is not UTF-8: sqlite3 raised
    ],
)
def test_hash_cache_row_an_edit_left_unreadable_is_tampered_not_fatal(
    tmp_path: Path, dev: str, mac: str
) -> None:
    key, _ = generate_keypair(tmp_path / "host")
    file = tmp_path / "model" / "w.bin"
    file.parent.mkdir()
    file.write_bytes(b"weights")
    st = os.stat(file)
    with open_hash_cache(tmp_path, key, 3600.0, racy_window=0) as cache:
        assert cache.tree(file.parent).lookup(str(file), "s", st) is None
        cache.finish_run()
    db = sqlite3.connect(tmp_path / CACHE_FILE)
    db.execute(
        f"INSERT INTO files VALUES (?, 's', {dev}, 1, 1, 1, 1, NULL, NULL, '[]', NULL, 0, {mac})",
        (str(file),),
    )
    db.commit()
    db.close()
    with open_hash_cache(tmp_path, key, 3600.0, racy_window=0) as cache:
        assert cache.tree(file.parent).lookup(str(file), "s", st) is None
        assert [f.rule for f in cache.findings()] == ["cache-tampered"]


def test_maps_line_with_an_oversized_device_number_is_one_error() -> None:
    data = b"5-d r--p 89 bbbbbbbd:09 1\n"
    with pytest.raises(ProcessError, match=r"maps:1: device number out of range"):
        parse_maps(data, "maps")


@pytest.mark.parametrize(
    ("value", "message"),
    [("~no-such-user-chainguard/k.pub", "cannot expand"), ("k\\u0000.pub", "NUL byte")],
)
def test_config_path_that_cannot_be_a_path_is_a_config_error(
    tmp_path: Path, value: str, message: str
) -> None:
    config = tmp_path / "chainguard.toml"
    config.write_text(f'[trust]\nkeys = ["{value}"]\n')
    config.chmod(0o600)
    with pytest.raises(ConfigError, match=message):
        load_config(config)


@pytest.mark.parametrize(
    ("include", "message"),
    [
        ("-r ~no-such-user-chainguard/x.txt", "cannot expand"),
        ("-r a\0b.txt", "NUL byte"),
        ("-r " + "n" * 300, "File name too long"),  # is_file raised OSError
    ],
)
def test_requirements_include_that_cannot_be_a_path_is_a_lockfile_error(
    tmp_path: Path, include: str, message: str
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"foo==1.0\n{include}\n")
    with pytest.raises(LockfileError, match=message):
        collect_requirements(requirements)


def _zip_with_unnamed_member(extra: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo(""), pickle.dumps(1))  # ZipInfo.is_dir() raises IndexError
        for name, data in extra.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_zip_member_without_a_name_is_analysed_not_fatal(tmp_path: Path) -> None:
    model = tmp_path / "model.pt"
    model.write_bytes(_zip_with_unnamed_member({"archive/data.pkl": pickle.dumps([1])}))
    analysis = analyse_file(model, "pytorch-zip")
    assert analysis is not None and analysis.error is None and analysis.unsafe == ()


def test_advisory_zip_member_without_a_name_is_skipped(tmp_path: Path) -> None:
    from support.advisories import torch_ghsa

    mirror = tmp_path / "osv.zip"
    mirror.write_bytes(_zip_with_unnamed_member({"GHSA.json": json.dumps(torch_ghsa()).encode()}))
    assert [a.id for a in read_advisories(mirror)] == [torch_ghsa()["id"]]


def test_zip_needing_a_version_zipfile_lacks_is_unanalysable(tmp_path: Path) -> None:
    data = bytearray(_zip_with_unnamed_member({}))
    central = data.index(b"PK\x01\x02")
    data[central + 6 : central + 8] = (118).to_bytes(2, "little")  # "needs zip 11.8"
    model = tmp_path / "model.pt"
    model.write_bytes(bytes(data))
    analysis = analyse_file(model, "pytorch-zip")
    assert analysis is not None and analysis.error is not None
    assert "unreadable zip: zip file version 11.8" in analysis.error


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("https://[pypi.org/pkg-1.0.tar.gz", "is not a URL: Invalid IPv6 URL"),
        ("-e ./a\0/..", "cannot resolve"),
    ],
)
def test_requirement_location_that_cannot_be_read_is_a_lockfile_error(
    tmp_path: Path, line: str, message: str
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{line}\n")
    with pytest.raises(LockfileError, match=message):
        collect_requirements(requirements)


def _corrupt_deflate(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    raw = bytearray(buffer.getvalue())
    start = 30 + len(next(iter(members)))  # the first member's compressed bytes
    raw[start : start + 4] = b"\xff\xff\xff\xff"  # zlib.error, not BadZipFile, from read()
    return bytes(raw)


def test_advisory_zip_with_corrupt_deflate_is_an_advisory_error(tmp_path: Path) -> None:
    from support.advisories import torch_ghsa

    mirror = tmp_path / "osv.zip"
    mirror.write_bytes(_corrupt_deflate({"GHSA.json": json.dumps(torch_ghsa()).encode() * 4}))
    with pytest.raises(AdvisoryError, match="cannot read advisories zip: Error -3"):
        read_advisories(mirror)


def test_pickle_zip_member_with_corrupt_deflate_is_unanalysable(tmp_path: Path) -> None:
    model = tmp_path / "model.pt"
    model.write_bytes(_corrupt_deflate({"archive/data.pkl": pickle.dumps(list(range(500)))}))
    analysis = analyse_file(model, "pytorch-zip")
    assert analysis is not None and analysis.error is not None
    assert "unreadable zip member: Error -3" in analysis.error


def test_hub_answer_with_a_non_string_blob_id_is_an_input_error() -> None:
    from huggingface_hub.hf_api import ModelInfo

    from chainguard.collectors.hfhub import HubReference, hub_listing

    info = ModelInfo(
        id="org/name",
        sha="0" * 40,
        siblings=[{"rfilename": "config.json", "size": 3, "blobId": {"x": 1}}],
    )
    with pytest.raises(InputError, match="no size or git blob id"):
        hub_listing(
            "hf://org/name", HubReference("model", "org/name", "main"), info, lambda _: False, 1024
        )


def test_truncated_npy_v2_header_is_unanalysable(tmp_path: Path) -> None:
    array = tmp_path / "a.npy"
    array.write_bytes(b"\x93NUMPY\x02\x00\x10\x00\x00")  # 11 bytes: the 4-byte length cut
    analysis = analyse_file(array, "numpy-pickle")
    assert analysis is not None and analysis.error == "truncated .npy header"


def test_advisory_zip_with_a_name_flagged_utf8_that_is_not_is_an_advisory_error(
    tmp_path: Path,
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("r\u00e9.json", b"{}")  # non-ASCII: flagged UTF-8 (bit 11)
    raw = buffer.getvalue().replace("r\u00e9".encode(), b"r\xff\xfe")
    mirror = tmp_path / "osv.zip"
    mirror.write_bytes(raw)
    with pytest.raises(AdvisoryError, match="cannot read advisories zip: 'utf-8' codec"):
        read_advisories(mirror)


def test_encrypted_zip_member_is_unanalysable(tmp_path: Path) -> None:
    raw = bytearray(_zip_with_unnamed_member({"archive/data.pkl": pickle.dumps([1])}))
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # set "encrypted" (bit 0) in both headers
        at = 0
        while (at := raw.find(header, at)) >= 0:
            flags = at + (6 if header == b"PK\x03\x04" else 8)
            raw[flags] |= 1
            at += 4
    model = tmp_path / "model.pt"
    model.write_bytes(bytes(raw))
    analysis = analyse_file(model, "pytorch-zip")
    assert analysis is not None and analysis.error is not None
    assert analysis.error == "(no name): encrypted zip member"


# --- fleet status: what a registry (or an enrolled host) serves ---------------------------------


def test_a_manifest_nested_too_deep_is_untrusted_not_a_crash() -> None:
    from chainguard.fleet.status import Untrusted, bundle_of_manifest

    # within the 64 KiB manifest bound; json raised RecursionError
    with pytest.raises(Untrusted, match="manifest is not JSON"):
        bundle_of_manifest(b"[" * 60_000)


def test_a_signed_time_with_no_utc_equivalent_is_untrusted_not_a_crash(tmp_path: Path) -> None:
    """A host's own key signing timeVerified 0001-01-01T00:00:00+05:00: astimezone raised
    OverflowError, which stopped fleet status for the whole fleet."""
    from chainguard.api.attestation import sign_bundle
    from chainguard.attest.vsa import VERIFIER_ID, VSA_PREDICATE_TYPE
    from chainguard.fleet.status import Untrusted, verify_attestation
    from chainguard.trust.keys import load_private_key, load_public_key

    private, public = generate_keypair(tmp_path / "alpha")
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "svc", "digest": {"sha256": "00" * 32}}],
        "predicateType": VSA_PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": VERIFIER_ID},
            "timeVerified": "0001-01-01T00:00:00+05:00",
            "verificationResult": "PASSED",
            "chainguard": {"host": {"hostname": "alpha"}, "findings": []},
        },
    }
    bundle = sign_bundle(
        json.dumps(statement).encode(),
        "application/vnd.in-toto+json",
        load_private_key(private, None),
    )
    with pytest.raises(Untrusted, match="out of range"):
        verify_attestation("alpha", load_public_key(public), "t", bundle)


@pytest.mark.parametrize(
    "document",
    [
        # OpenVEX: a status that is an object (found by the CI fuzz run: `in` a frozenset
        # raised "unhashable type: 'dict'")
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "statements": [
                {"vulnerability": {"name": "CVE-1"}, "status": {}, "products": ["pkg:pypi/a"]}
            ],
        },
        # CycloneDX VEX: an analysis state that is a list (the same bug)
        {
            "bomFormat": "CycloneDX",
            "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": []}}],
        },
    ],
)
def test_a_vex_status_of_the_wrong_type_is_an_advisory_error(document: object) -> None:
    from chainguard.advisories.vex import parse_vex

    with pytest.raises(AdvisoryError, match="must be one of"):
        parse_vex(json.dumps(document).encode(), "vex.json")


@pytest.mark.parametrize("header", [b"{{}}", b"{[]}", b"{{}: 1}", b"{'descr': {{}}}"])
def test_npy_header_that_literal_eval_cannot_hash_is_unparseable_not_fatal(
    header: bytes,
) -> None:
    from chainguard.formats.detect import detect_format, npy_header_has_objects

    assert npy_header_has_objects(header)  # unparseable counts as "may hold objects"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    assert detect_format(npy, len(npy)) == "numpy-pickle"
