"""Hostile inputs that claim, or expand to, far more than they are: each is refused quickly,
with bounded memory, as the README's "Bounds" section says (exit 3, or a finding).

Through the real CLI. Where memory is the point, a real process is measured (peak RSS of the
process, support.hostile.measure); the inputs are small on disk (sparse files, claimed sizes,
compressed repetition). benchmarks/bench_hostile.py measures the same inputs at full size.
"""

from __future__ import annotations

import sqlite3
import struct
import sys
import time
import zipfile
from pathlib import Path

import pytest
from support import DEPLOYMENT
from support import hostile as h
from support.claim_server import claim_server
from support.cli import Outcome, assert_one_line_error, chainguard_script, cli, verdict
from support.deps import signed_sbom
from support.release import MODEL_FILES, Release, make_release

from chainguard.errors import MAX_INPUT_BYTES
from chainguard.formats.pickles import MAX_MEMBER_BYTES, MAX_PICKLE_MEMBERS, MAX_PICKLE_OPS
from chainguard.trust.gate import MAX_UNSIGNED_SBOM_PARSED

# Peak RSS of a chainguard process refusing a hostile input: the interpreter and its imports
# take ~40 MiB; anything near the input's claimed size would be far above this.
RSS_BOUND_MIB = 150
DEEP = 100_000


def scan(directory: Path) -> h.Measured:
    return h.measure([chainguard_script(), "scan", directory, "--format", "json"], directory)


def scan_findings(directory: Path) -> list[tuple[str, str]]:
    import json

    outcome = cli("scan", directory, "--format", "json")
    assert outcome.code in (0, 1), outcome
    assert "Traceback" not in outcome.stderr
    return sorted((f["rule"], f["message"]) for f in json.loads(outcome.stdout)["findings"])


def only_finding(directory: Path, rule: str, *needles: str) -> None:
    ((found_rule, message),) = scan_findings(directory)
    assert found_rule == rule, message
    for needle in needles:
        assert needle in message, (needle, message)


def bounded(measured: h.Measured, code: int, seconds: float = 15.0) -> h.Measured:
    assert measured.code == code, measured
    assert "Traceback" not in measured.stderr
    assert measured.rss_mib < RSS_BOUND_MIB, measured.rss_mib
    assert measured.seconds < seconds, measured.seconds
    return measured


# --- model files: claimed sizes and counts ------------------------------------------------------


def test_a_safetensors_header_claiming_4_gib_is_malformed_unread(tmp_path: Path) -> None:
    h.safetensors_claiming(tmp_path / "model.safetensors", 4 * h.GIB)
    measured = bounded(scan(tmp_path), 1)
    assert "malformed-artifact" in measured.stdout
    assert "exceeds the 100000000-byte limit" in measured.stdout


def test_a_safetensors_header_of_a_million_empty_objects_is_malformed_unparsed(
    tmp_path: Path,
) -> None:
    # 3 MB of JSON that json would turn into a million dicts (the 100 MB a header may be: 33
    # million of them, 2.5 GB): counted in the raw bytes and refused before parsing.
    body = b'{"a": [' + b"{}," * 1_000_000 + b"{}]}"
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(body)) + body)
    only_finding(tmp_path, "malformed-artifact", "objects/arrays", "over the 1000000")


@pytest.mark.parametrize(
    ("write", "says"),
    [
        (h.gguf_claiming_counts, "over the limits"),
        (h.gguf_claiming_string, "runs past the end of the file"),
        (h.gguf_claiming_array, "over 10000000 elements"),
    ],
)
def test_a_gguf_claiming_huge_counts_is_malformed(tmp_path: Path, write: object, says: str) -> None:
    write(tmp_path / "model.gguf")  # type: ignore[operator]
    only_finding(tmp_path, "malformed-artifact", says)


def test_a_gguf_with_a_million_metadata_strings_is_read_in_bounded_memory(tmp_path: Path) -> None:
    # Valid and 8 MB: gguf's own reader took 1.6 GB and tens of seconds over it.
    key, n = b"tokenizer.ggml.tokens", 1_000_000
    with (tmp_path / "model.gguf").open("wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key)
        f.write(struct.pack("<IIQ", 9, 8, n) + struct.pack("<Q", 0) * n)
    measured = bounded(scan(tmp_path), 0)
    assert "gguf" in measured.stdout


# --- pickles and archives -----------------------------------------------------------------------


def test_a_pickle_of_more_opcodes_than_analysed_is_unsafe(tmp_path: Path) -> None:
    h.pickle_ops(tmp_path / "model.pkl", MAX_PICKLE_OPS + 2)
    measured = bounded(scan(tmp_path), 1)
    assert "unsafe-pickle" in measured.stdout
    assert f"more than {MAX_PICKLE_OPS} opcodes" in measured.stdout


def test_a_pickle_that_never_stops_is_unsafe(tmp_path: Path) -> None:
    h.pickle_ops(tmp_path / "model.pkl", 200_000, stop=False)
    only_finding(tmp_path, "unsafe-pickle", "before seeing STOP")


def test_a_torch_zip_whose_pickle_expands_past_the_opcode_cap_is_unsafe(tmp_path: Path) -> None:
    # 2 MB of pickle deflated to a few KB: the expansion is in the opcodes, not the bytes
    data = h.PICKLE_HEAD + b"N0" * (MAX_PICKLE_OPS // 2 + 1) + b"N."
    h.torch_zip_of(tmp_path / "model.pt", data)
    assert (tmp_path / "model.pt").stat().st_size < 100_000
    only_finding(tmp_path, "unsafe-pickle", "opcodes in one file")


@pytest.mark.slow
def test_the_opcode_cap_counts_every_pickle_of_an_archive_together(tmp_path: Path) -> None:
    third = h.PICKLE_HEAD + b"N0" * (MAX_PICKLE_OPS // 6 + 1) + b"N."
    with zipfile.ZipFile(tmp_path / "model.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(3):
            z.writestr(f"part{i}.pkl", third)
    only_finding(tmp_path, "unsafe-pickle", "opcodes in one file")


def test_an_archive_of_more_pickles_than_analysed_is_unsafe(tmp_path: Path) -> None:
    h.zip_members(tmp_path / "model.zip", MAX_PICKLE_MEMBERS + 1)
    only_finding(tmp_path, "unsafe-pickle", f"over {MAX_PICKLE_MEMBERS} pickle members")


def test_a_zip_bomb_member_is_refused_by_its_claimed_size_before_inflating(
    tmp_path: Path,
) -> None:
    # A real deflate bomb: 1 MiB of zeros claimed as 4 GiB - 1 (the local and central headers
    # edited); zipfile would inflate up to the claim, chainguard refuses the claim.
    path = h.torch_zip_of(tmp_path / "model.pt", bytes(1 << 20))
    claimed = 0xFFFF_FFFF
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            name_len = struct.unpack_from("<H", data, at + (26 if offset == 22 else 28))[0]
            if data[name_at : name_at + name_len] == b"archive/data.pkl":
                struct.pack_into("<I", data, at + offset, claimed)
            start = at + 4
    path.write_bytes(bytes(data))
    assert zipfile.ZipFile(path).getinfo("archive/data.pkl").file_size == claimed
    measured = bounded(scan(tmp_path), 1)
    assert "unsafe-pickle" in measured.stdout
    assert f"pickle of {claimed} bytes (over {MAX_MEMBER_BYTES})" in measured.stdout


# --- signed documents: size, entries, nesting ---------------------------------------------------


@pytest.fixture
def release(tmp_path: Path) -> Release:
    return make_release(tmp_path / "release", models={"weights": MODEL_FILES})


def verify(release: Release, *extra: str | Path) -> h.Measured:
    argv = [chainguard_script(), "verify", "model", release.model, "--key", release.pub]
    return h.measure([*argv, "--deployment", DEPLOYMENT, *extra], release.model.parent)


def test_a_bundle_of_ten_million_entries_is_refused_by_size_unread(
    release: Release, tmp_path: Path
) -> None:
    # 10,000,000 file entries as `sbom build` writes them make a ~3.4 GB bundle: sparse here,
    # with a bundle's opening; refused on its size before a byte of it is read.
    bundle = h.sparse(
        tmp_path / "huge.sigstore.json",
        b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "dsseEnvelope": '
        b'{"payloadType": "application/vnd.in-toto+json", "payload": "',
        3_400_000_000,
        b'"}}',
    )
    measured = bounded(verify(release, "--sbom", release.sbom, "--signature", bundle), 3, 10)
    assert f"over the {MAX_INPUT_BYTES // 2**20} MiB limit" in measured.stderr
    assert len(measured.stderr.strip().splitlines()) == 1


def test_an_sbom_of_one_json_string_over_the_cap_is_refused_unread(
    release: Release, tmp_path: Path
) -> None:
    huge = h.json_string_file(tmp_path / "huge.cdx.json", MAX_INPUT_BYTES + 1)
    measured = h.measure([chainguard_script(), "sign", huge, "--key", release.key], tmp_path)
    bounded(measured, 3, 10)
    assert "SBOM of 1073741825 bytes is over the 1024 MiB limit" in measured.stderr


@pytest.mark.slow
def test_a_component_list_is_read_as_it_is_signed_in_bounded_memory(
    release: Release, tmp_path: Path
) -> None:
    # The SBOM file given beside a valid signature is hashed streaming and, since it is not the
    # signed one, parsed only to word the error: 200,000 components within the bound.
    sbom = h.sbom_components(tmp_path / "many.cdx.json", 200_000)
    measured = verify(release, "--sbom", sbom, "--signature", release.sig)
    assert measured.code == 3, measured
    assert "Traceback" not in measured.stderr
    assert measured.rss_mib < 400, measured.rss_mib


def test_an_sbom_file_over_the_parse_cap_beside_a_valid_signature_is_a_mismatch_unparsed(
    release: Release, tmp_path: Path
) -> None:
    # Hashed (streaming), found not to be the signed one, and not parsed (JSON parsed whole
    # takes ~8 times its size): sbom-mismatch, the report still written.
    sbom = h.json_string_file(tmp_path / "big.cdx.json", MAX_UNSIGNED_SBOM_PARSED + 1)
    measured = verify(release, "--sbom", sbom, "--signature", release.sig, "--format", "json")
    bounded(measured, 1)
    assert '"rule": "sbom-mismatch"' in measured.stdout


@pytest.mark.parametrize("option", ["--signature", "--sbom"])
def test_json_nested_100000_deep_is_one_line_exit_3(
    release: Release, tmp_path: Path, option: str
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_bytes(h.deep_json(DEEP))
    args = ["--sbom", release.sbom, "--signature", release.sig]
    args[args.index(option) + 1] = str(deep)
    outcome = cli("verify", "model", release.model, "--key", release.pub, *args)
    assert_one_line_error(outcome, 3, "deep.json")


def test_a_claim_nested_100000_deep_is_claim_unavailable(release: Release, tmp_path: Path) -> None:
    claim = tmp_path / "claim.json"
    claim.write_bytes(h.deep_json(DEEP, key="deployment"))
    outcome = release.verify("--claim", claim, json=True)
    assert outcome.code == 1
    assert outcome.rules == [("claim-unavailable", str(claim))]
    assert "nested too deeply" in outcome.finding("claim-unavailable", str(claim))["message"]


def test_a_claim_file_of_one_gib_string_is_refused_at_the_cap(
    release: Release, tmp_path: Path
) -> None:
    claim = h.json_string_file(tmp_path / "claim.json", h.GIB)
    measured = verify(release, "--sbom", release.sbom, "--claim", claim, "--format", "json")
    bounded(measured, 1, 10)
    assert "claim-unavailable" in measured.stdout
    assert "larger than 1 MiB" in measured.stdout


def test_a_model_config_nested_100000_deep_is_a_note_not_a_crash(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_bytes(h.deep_json(DEEP, key="architectures"))
    (model / "weights.bin").write_bytes(b"\0" * 64)
    outcome = cli("sbom", "build", "--name", "svc", "--version", "1", "-o", tmp_path / "s.json",
                  "--model", model)  # fmt: skip
    assert outcome.code == 0, outcome
    assert "Traceback" not in outcome.stderr


# --- dependencies: VEX, OSV, lockfiles ----------------------------------------------------------


@pytest.fixture
def deps_release(tmp_path: Path) -> tuple[Path, Path, Path]:
    lock = tmp_path / "project" / "requirements.txt"
    lock.parent.mkdir()
    lock.write_text("numpy==2.1.3 \\\n    --hash=sha256:" + "cd" * 32 + "\n")
    sbom, pub = signed_sbom(tmp_path / "release", locks=(lock,))
    return lock, sbom, pub


def verify_deps(deps: tuple[Path, Path, Path], *extra: str | Path) -> Outcome:
    lock, sbom, pub = deps
    return cli("verify", "deps", lock, "--sbom", sbom, "--key", pub, "--deployment", DEPLOYMENT,
               *extra)  # fmt: skip


def test_a_vex_nested_100000_deep_is_one_line_exit_3(
    deps_release: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    vex = tmp_path / "vex.json"
    vex.write_bytes(h.deep_json(DEEP, key="statements"))
    assert_one_line_error(verify_deps(deps_release, "--vex", vex), 3, "nested too deeply")


def test_an_osv_record_nested_100000_deep_is_one_line_exit_3(
    deps_release: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    osv = tmp_path / "osv"
    osv.mkdir()
    (osv / "GHSA-deep.json").write_bytes(h.deep_json(DEEP, key="affected"))
    assert_one_line_error(verify_deps(deps_release, "--advisories", osv), 3, "nested too deeply")


def test_a_vex_of_one_gib_string_is_refused_at_the_cap(
    deps_release: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    vex = h.json_string_file(tmp_path / "vex.json", h.GIB)
    lock, sbom, pub = deps_release
    measured = h.measure(
        [chainguard_script(), "verify", "deps", lock, "--sbom", sbom, "--key", pub,
         "--deployment", DEPLOYMENT, "--vex", vex],
        tmp_path,
    )  # fmt: skip
    bounded(measured, 3, 10)  # refused on its size, unread
    assert "larger than 67108864 bytes" in measured.stderr


def test_a_lockfile_nested_100000_deep_is_one_line_exit_3(
    deps_release: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, sbom, pub = deps_release
    lock = tmp_path / "uv.lock"
    lock.write_bytes(b"version = 1\n" + h.deep_toml(DEEP, "extra"))
    outcome = cli("verify", "deps", lock, "--sbom", sbom, "--key", pub)
    assert_one_line_error(outcome, 3, "uv.lock: invalid TOML: nested too deeply")


def test_a_requirements_file_of_one_gib_is_refused_unread(
    deps_release: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    lock, sbom, pub = deps_release
    h.sparse(lock, b"numpy==2.1.3\n", h.GIB)
    measured = h.measure(
        [chainguard_script(), "verify", "deps", lock, "--sbom", sbom, "--key", pub,
         "--deployment", DEPLOYMENT],
        tmp_path,
    )  # fmt: skip
    bounded(measured, 3, 10)
    assert "larger than 64 MiB" in measured.stderr


# --- chainguard.toml ----------------------------------------------------------------------------


def config(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_a_config_nested_100000_deep_is_one_line_exit_3(tmp_path: Path) -> None:
    path = config(tmp_path / "chainguard.toml", h.deep_toml(DEEP, "sbom"))
    outcome = cli("verify", "deployment", "--config", path)
    assert_one_line_error(outcome, 3, "nested too deeply")


def test_a_config_over_its_cap_is_refused_unread(tmp_path: Path) -> None:
    path = config(tmp_path / "chainguard.toml", b"")
    h.sparse(path, b"# ", h.GIB)
    measured = h.measure([chainguard_script(), "verify", "deployment", "--config", path], tmp_path)
    bounded(measured, 3, 10)
    assert "larger than 4 MiB; not a config" in measured.stderr


# --- the host's claim endpoint ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/drip-headers", "no complete answer within 0.9 s"),
        ("/drip-body", "no complete answer within 0.9 s"),
        ("/endless", "larger than the 1 MiB cap"),
    ],
)
def test_a_claim_endpoint_dripping_or_endless_is_cut_at_its_deadline(
    release: Release, path: str, says: str
) -> None:
    with claim_server() as server:
        url = server.url(path)
        start = time.monotonic()
        outcome = verdict(release.verify("--claim", url, "--claim-timeout", "0.3", json=True))
        elapsed = time.monotonic() - start
    assert outcome.rules == [("claim-unavailable", url)]
    assert says in outcome.finding("claim-unavailable", url)["message"]
    assert "Traceback" not in outcome.stderr
    # 3 x 0.3 s for the claim, plus the verify itself (in-process, under load)
    assert elapsed < 6, elapsed


# --- the attestation log ------------------------------------------------------------------------


@pytest.fixture
def attested(release: Release, tmp_path: Path) -> tuple[Path, Path]:
    """(state directory, host public key) after one attest run."""
    config_path = tmp_path / "host.toml"
    config_path.write_text(
        f'sbom = "{release.sbom}"\ndeployment = "{DEPLOYMENT}"\n[trust]\nkeys = ["{release.pub}"]\n'
        f'[models]\nweights = "{release.model}"\n'
    )
    state = tmp_path / "state"
    outcome = cli("attest", "--config", config_path, "--state", state, "--normal-priority")
    assert outcome.code == 0, outcome
    return state, state / "host.pub"


def edit_entry(state: Path, sql: str) -> None:
    conn = sqlite3.connect(state / "attest.db")
    with conn:
        conn.execute(sql)
    conn.close()


def test_a_log_row_of_100_mib_is_reported_unread(attested: tuple[Path, Path]) -> None:
    state, pub = attested
    edit_entry(state, "UPDATE attest_log SET attestation = zeroblob(100 * 1024 * 1024)")
    measured = h.measure(
        [chainguard_script(), "log", "verify", "--state", state, "--key", pub], state
    )
    assert measured.code == 1, measured
    assert "over 64 MiB (not read)" in measured.stdout + measured.stderr
    assert "Traceback" not in measured.stderr
    assert measured.rss_mib < RSS_BOUND_MIB + 64  # the capped read of the column


def test_a_log_entry_nested_100000_deep_is_reported(attested: tuple[Path, Path]) -> None:
    state, pub = attested
    deep = h.deep_json(DEEP, key="seq").decode()
    edit_entry(state, f"UPDATE attest_log SET entry = CAST('{deep}' AS BLOB)")
    outcome = cli("log", "verify", "--state", state, "--key", pub)
    assert outcome.code == 1, outcome
    assert "Traceback" not in outcome.stderr


if sys.platform != "linux":  # ru_maxrss units and sparse files as measured here
    pytestmark = pytest.mark.skip(reason="Linux only")
