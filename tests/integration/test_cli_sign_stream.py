"""`chainguard sign` with an ECDSA key streams the statement (api/sign.py, sbom/compact.py,
trust/stream_sign.py): it signs exactly the payload the whole-statement path signs, both verify
paths accept the bundle, Ed25519 and unusual SBOMs still take the whole path, and a large SBOM
is signed in bounded memory."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, cli, ok
from support.release import make_release

from chainguard import api
from chainguard.models import FileDigest, tree_digest
from chainguard.sbom import fileshape
from chainguard.trust import stream
from chainguard.trust.keys import load_public_key

REPO = Path(__file__).resolve().parents[2]


def payload(bundle: Path) -> bytes:
    return base64.b64decode(json.loads(bundle.read_bytes())["dsseEnvelope"]["payload"])


def dataset(files: int) -> dict[str, dict[str, bytes]]:
    return {"data": {f"d{i % 3}/f{i:03d}.txt": b"%d\n" % i for i in range(files)}}


def test_the_streamed_bundle_is_the_whole_statement_and_verifies_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = {"weights": {"config.json": b'{"model_type": "bert"}', "w/été.bin": b"\0" * 9}}
    release = make_release(tmp_path, models=model, datasets=dataset(40), via="cli")
    assert payload(release.sig) == api.sbom_statement(release.sbom)  # `chainguard sign`'s
    trust = ("--sbom", release.sbom, "--key", release.pub, "--signature", release.sig)
    verify_dataset = ("verify", "dataset", release.datasets[0], *trust)
    verify_model = ("verify", "model", release.models[0], *trust)
    ok(cli(*verify_dataset))  # the bundle read whole
    ok(cli(*verify_model))
    monkeypatch.setattr(stream, "STREAM_FROM", 0)
    ok(cli(*verify_dataset))  # and in two passes, never held (trust/stream.py)
    ok(cli(*verify_model))


def test_an_ed25519_key_signs_the_whole_statement(tmp_path: Path) -> None:
    release = make_release(tmp_path, datasets=dataset(5))
    key, pub = api.keygen(tmp_path / "ed", "ed25519")
    sig = api.sign_sbom(release.sbom, key, tmp_path / "ed.sig")
    assert payload(sig) == api.sbom_statement(release.sbom)
    verify = ("verify", "dataset", release.datasets[0], "--sbom", release.sbom)
    ok(cli(*verify, "--key", pub, "--signature", sig))


def test_an_sbom_the_stream_does_not_take_is_refused_as_before(tmp_path: Path) -> None:
    release = make_release(tmp_path, datasets=dataset(3))
    data = release.sbom.read_bytes()
    duplicated = data.replace(b"{\n", b'{\n  "bomFormat": "CycloneDX",\n', 1)
    release.sbom.write_bytes(duplicated)
    out = tmp_path / "dup.sig"
    outcome = cli("sign", release.sbom, "--key", release.key, "-o", out)
    assert_one_line_error(outcome, 3, "duplicate JSON key", "bomFormat")
    assert not out.exists()


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519"])
def test_a_lone_surrogate_escape_is_a_one_line_sbom_error(tmp_path: Path, algorithm: str) -> None:
    # json.loads accepts "\ud800"; encoding the statement back to UTF-8 then failed as an
    # "internal error" on both the streamed and the whole path.
    release = make_release(tmp_path, datasets=dataset(3))
    data = release.sbom.read_bytes()
    release.sbom.write_bytes(data.replace(b"{\n", b'{\n  "x-junk": "\\ud800",\n', 1))
    key, _ = api.keygen(tmp_path / "k", algorithm)
    out = tmp_path / "s.sig"
    outcome = cli("sign", release.sbom, "--key", key, "-o", out)
    assert_one_line_error(outcome, 3, str(release.sbom), "lone surrogate")
    assert not out.exists()


def test_an_unwritable_output_is_an_output_error(tmp_path: Path) -> None:
    release = make_release(tmp_path, datasets=dataset(3))
    out = tmp_path / "missing" / "x.sig"
    outcome = cli("sign", release.sbom, "--key", release.key, "-o", out)
    assert_one_line_error(outcome, 3, str(out), "cannot write")


# --- bounded memory ------------------------------------------------------------------------------

# Runs a command as a child of this small interpreter and prints the child's peak RSS (KiB): a
# child's ru_maxrss starts at the RSS of the process it was forked from (here ~10 MB, not the
# test runner's), so it is forked from here, not from pytest.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""
FILES = 100_000
# The whole-statement path held the SBOM parsed twice, the statement and its base64: ~290 MB
# for 100,000 files. Streamed: ~80 MB, mostly one line per file (the root digests are checked).
PEAK_RSS_MB = 150


def write_large_sbom(path: Path, files: int) -> None:
    """A valid SBOM listing ``files`` files, in the layout `sbom build` writes (its template is
    the fixture release's SBOM, its entries rendered as build renders them), without a tree."""
    doc = json.loads((REPO / "fixtures" / "release" / "tiny-bert.cdx.json").read_bytes())
    (component,) = doc["components"]
    listed = [
        FileDigest(f"d{i // 1000:03d}/f{i:06d}.txt", 64, hashlib.sha256(b"%d" % i).hexdigest())
        for i in range(files)
    ]
    component["hashes"] = [{"alg": "SHA-256", "content": tree_digest(listed)}]
    for prop in component["properties"]:
        if prop["name"] == "chainguard:file-count":
            prop["value"] = str(files)
        elif prop["name"] == "chainguard:total-size":
            prop["value"] = str(64 * files)
    component["components"] = "FILES"
    head, tail = json.dumps(doc, indent=2, ensure_ascii=False).split('"FILES"')
    ref = component["bom-ref"]
    with path.open("w", encoding="utf-8") as f:
        f.write(head + "[\n")
        for start in range(0, files, 10_000):
            batch = listed[start : start + 10_000]
            rendered = (
                fileshape.render_indented(fileshape.file_dict(ref, d), encode_basestring)
                for d in batch
            )
            f.write((",\n" if start else "") + ",\n".join(rendered))
        f.write("\n" + " " * 6 + "]" + tail + "\n")


@pytest.mark.slow
def test_a_large_sbom_is_signed_in_bounded_memory(tmp_path: Path) -> None:
    sbom = tmp_path / "large.cdx.json"
    write_large_sbom(sbom, FILES)
    ok(cli("keygen", tmp_path / "k"))
    sig = tmp_path / "large.sig"
    chainguard = Path(sys.executable).parent / "chainguard"
    argv = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(chainguard), "sign", str(sbom)]
    argv += ["--key", str(tmp_path / "k.key"), "-o", str(sig)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    peak_mb = int(proc.stdout.split()[-1]) / 1024
    assert peak_mb < PEAK_RSS_MB, f"peak RSS {peak_mb:.0f} MB"

    # what it signed verifies, streamed (a 70 MB bundle), and names the SBOM's bytes
    key = load_public_key(tmp_path / "k.pub")
    verified = stream.verify_key_bundle_streamed(sig, [key], source=str(sig))
    assert verified is not None
    sha256 = hashlib.sha256(sbom.read_bytes()).hexdigest()
    assert verified.subjects[0].digest == (("sha256", sha256),)


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "whole"])
def test_a_p384_key_from_keygen_signs_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    # P-384 signs (and verifies) SHA-384 of PAE, streamed or whole, as Sigstore's clients do
    release = make_release(tmp_path, datasets=dataset(12))
    ok(cli("keygen", tmp_path / "p384", "--algorithm", "ecdsa-p384"))
    if not streamed:
        monkeypatch.setattr("chainguard.trust.stream_sign.streams", lambda key: False)
    sig = tmp_path / "p384.sig"
    ok(cli("sign", release.sbom, "--key", tmp_path / "p384.key", "--output", sig))
    assert load_public_key(tmp_path / "p384.pub").algorithm == "ecdsa-p384"
    assert payload(sig) == api.sbom_statement(release.sbom)
    verify = ("verify", "dataset", release.datasets[0], "--sbom", release.sbom)
    ok(cli(*verify, "--key", tmp_path / "p384.pub", "--signature", sig))
    (release.datasets[0] / "d0" / "f000.txt").write_bytes(b"changed\n")
    assert cli(*verify, "--key", tmp_path / "p384.pub", "--signature", sig).code == 1
