"""chainguard attest on a host: the signed VSA checked by an independent DSSE verifier, the
attestation log under deletion, editing, reordering, swapping, kill -9, a full disk and a
second run, the webhook down then up, the metrics parsed back."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.cli import Outcome, assert_one_line_error, chainguard_script, cli
from support.release import MODEL_FILES, Release, make_release


@dataclass(frozen=True)
class Host:
    release: Release
    config: Path
    state: Path

    @property
    def db(self) -> Path:
        return self.state / "attest.db"

    @property
    def pub(self) -> Path:
        return self.state / "host.pub"

    def attest(self, *extra: str | Path) -> Outcome:
        # in-process: keep pytest's own priority (the console script test runs the default)
        return cli(
            "attest", "--config", self.config, "--state", self.state, "--normal-priority", *extra
        )

    def verify_log(self, *extra: str | Path) -> Outcome:
        return cli("log", "verify", "--state", self.state, "--key", self.pub, *extra)

    def argv(self, *extra: str | Path) -> list[str]:
        args = ["attest", "--config", self.config, "--state", self.state, *extra]
        return [str(chainguard_script()), *(str(a) for a in args)]


def make_host(tmp_path: Path, name: str = "host", release: Release | None = None) -> Host:
    release = release or make_release(tmp_path / "release", models={"weights": MODEL_FILES})
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'sbom = "{release.sbom}"\ndeployment = "svc"\n[trust]\nkeys = ["{release.pub}"]\n'
        f'[models]\nweights = "{release.model}"\n'
    )
    return Host(release, config, tmp_path / f"{name}-state")


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return make_host(tmp_path)


def rows(db: Path) -> list[tuple[int, bytes, bytes, bytes]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT seq, entry, signature, attestation FROM attest_log").fetchall()


def edit(db: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    conn = sqlite3.connect(db)
    with conn:
        for sql, args in statements:
            conn.execute(sql, args)
    conn.close()


# ------------------------------------------------------------- the VSA, checked independently


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 " + b" ".join(
        [str(len(kind)).encode(), kind, str(len(payload)).encode(), payload]
    )


def dsse_payload(bundle: bytes, public_pem: bytes) -> dict[str, Any]:
    """Verify a Sigstore bundle's DSSE envelope with the host's public key, independently of
    chainguard: PAE built here, ECDSA P-256 / SHA-256 through cryptography."""
    doc = json.loads(bundle)
    assert doc["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    envelope = doc["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    key = serialization.load_pem_public_key(public_pem)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    (signature,) = envelope["signatures"]
    key.verify(
        base64.b64decode(signature["sig"]),
        pae(envelope["payloadType"], payload),
        ec.ECDSA(hashes.SHA256()),
    )
    statement: dict[str, Any] = json.loads(payload)
    return statement


def test_vsa_verifies_with_an_independent_dsse_check(host: Host, tmp_path: Path) -> None:
    out = host.attest("--attestation", tmp_path / "vsa.json")
    assert out.code == 0, out.stderr
    assert "created the host key" in out.stderr
    assert "BEGIN" not in out.stderr + out.stdout  # the key is never printed
    assert (host.state / "host.key").stat().st_mode & 0o777 == 0o600
    statement = dsse_payload((tmp_path / "vsa.json").read_bytes(), host.pub.read_bytes())
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/verification_summary/v1"
    sbom_digest = hashlib.sha256(host.release.sbom.read_bytes()).hexdigest()
    assert statement["subject"] == [{"name": "deployment:svc", "digest": {"sha256": sbom_digest}}]
    vsa = statement["predicate"]
    assert vsa["verifier"]["id"]
    assert vsa["timeVerified"].endswith("Z")
    assert vsa["verificationResult"] == "PASSED" and vsa["verifiedLevels"]
    assert vsa["policy"]["digest"]["sha256"] == hashlib.sha256(host.config.read_bytes()).hexdigest()
    digests = [i["digest"]["sha256"] for i in vsa["inputAttestations"]]
    sig_digest = hashlib.sha256(host.release.sig.read_bytes()).hexdigest()
    assert digests == [sbom_digest, sig_digest]
    assert vsa["chainguard"]["host"]["hostname"] == socket.gethostname()
    assert vsa["chainguard"]["log"] == {"entry": 1, "previousHead": None}

    # The second run's attestation carries the chain head the first run left.
    assert host.attest("--attestation", tmp_path / "vsa2.json").code == 0
    shown = json.loads(cli("log", "show", "--state", host.state, "--format", "json").stdout)
    second = dsse_payload((tmp_path / "vsa2.json").read_bytes(), host.pub.read_bytes())
    assert second["predicate"]["chainguard"]["log"] == {
        "entry": 2,
        "previousHead": shown[0]["digest"],
    }
    # Tampering with the signed attestation fails the independent check.
    doc = json.loads((tmp_path / "vsa.json").read_text())
    tampered = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    tampered["predicate"]["verificationResult"] = "FAILED"
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(tampered).encode()).decode()
    with pytest.raises(InvalidSignature):
        dsse_payload(json.dumps(doc).encode(), host.pub.read_bytes())


def test_drift_new_resolved_unchanged(host: Host, tmp_path: Path) -> None:
    assert host.attest().code == 0
    weights = host.release.model / "config.json"
    original = weights.read_bytes()
    weights.write_bytes(original + b" ")
    failed = host.attest("--attestation", tmp_path / "a.json", "--format", "json")
    assert failed.code == 1
    assert "1 new, 0 resolved, 0 unchanged" in failed.stderr
    assert ("artifact-modified", "config.json") in failed.rules
    vsa = dsse_payload((tmp_path / "a.json").read_bytes(), host.pub.read_bytes())["predicate"]
    assert vsa["verificationResult"] == "FAILED" and vsa["verifiedLevels"] == []
    assert vsa["chainguard"]["drift"]["new"] == [
        ["artifact-modified", "config.json", "model:weights"]
    ]
    assert host.attest().code == 1
    weights.write_bytes(original)
    fixed = host.attest()
    assert fixed.code == 0 and "0 new, 1 resolved, 0 unchanged" in fixed.stderr
    shown = json.loads(cli("log", "show", "--state", host.state, "--format", "json").stdout)
    assert [r["result"] for r in shown] == ["PASSED", "FAILED", "FAILED", "PASSED"]
    assert [r["drift"] for r in shown][1:] == [
        {"new": 1, "resolved": 0, "unchanged": 0},
        {"new": 0, "resolved": 0, "unchanged": 1},
        {"new": 0, "resolved": 1, "unchanged": 0},
    ]


# ------------------------------------------------------------------------- a tampered log


def _three_entries(host: Host) -> list[tuple[int, bytes, bytes, bytes]]:
    for _ in range(3):
        assert host.attest().code == 0
    assert host.verify_log().code == 0
    return rows(host.db)


def test_deleted_entry_detected(host: Host) -> None:
    _three_entries(host)
    edit(host.db, ("DELETE FROM attest_log WHERE seq = 2", ()))
    out = host.verify_log()
    assert out.code == 1
    assert "entry 3 is broken: deleted: entry 2 is missing" in out.stdout


def test_deleted_first_entry_detected(host: Host) -> None:
    _three_entries(host)
    edit(host.db, ("DELETE FROM attest_log WHERE seq = 1", ()))
    assert "deleted: entry 1 is missing" in host.verify_log().stdout


def test_edited_entry_detected(host: Host) -> None:
    entries = _three_entries(host)
    forged = entries[1][1].replace(b'"PASSED"', b'"FAILED"')
    assert forged != entries[1][1]
    edit(host.db, ("UPDATE attest_log SET entry = ? WHERE seq = 2", (forged,)))
    out = host.verify_log()
    assert out.code == 1 and "entry 2 is broken: edited" in out.stdout


def test_reordered_entries_detected(host: Host) -> None:
    _three_entries(host)
    edit(
        host.db,
        ("UPDATE attest_log SET seq = -1 WHERE seq = 2", ()),
        ("UPDATE attest_log SET seq = 2 WHERE seq = 3", ()),
        ("UPDATE attest_log SET seq = 3 WHERE seq = -1", ()),
    )
    out = host.verify_log()
    assert out.code == 1 and "entry 2 is broken: reordered" in out.stdout


def test_swapped_attestation_detected(host: Host) -> None:
    entries = _three_entries(host)
    edit(host.db, ("UPDATE attest_log SET attestation = ? WHERE seq = 2", (entries[2][3],)))
    out = host.verify_log()
    assert out.code == 1 and "entry 2 is broken: swapped: its attestation" in out.stdout


def test_entry_swapped_in_from_another_log_detected(host: Host, tmp_path: Path) -> None:
    """The same host key, another log (a backup, a second store): each entry is validly signed
    and numbered, but chains to a different history."""
    _three_entries(host)
    other = make_host(tmp_path, "other", host.release)
    for _ in range(2):
        assert other.attest("--host-key", host.state / "host.key").code == 0
    _, entry, signature, attestation = rows(other.db)[1]
    edit(
        host.db,
        (
            "UPDATE attest_log SET entry = ?, signature = ?, attestation = ? WHERE seq = 2",
            (entry, signature, attestation),
        ),
    )
    out = host.verify_log()
    assert out.code == 1 and "entry 2 is broken: swapped: it chains to" in out.stdout


def test_bad_signature_detected(host: Host) -> None:
    entries = _three_entries(host)
    bundle = json.loads(entries[0][2])
    sig = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[-1] ^= 1
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    edit(host.db, ("UPDATE attest_log SET signature = ? WHERE seq = 1", (json.dumps(bundle),)))
    out = host.verify_log()
    assert out.code == 1 and "entry 1 is broken: bad signature" in out.stdout


def test_log_signed_by_another_key_refused(host: Host, tmp_path: Path) -> None:
    _three_entries(host)
    from chainguard.api import keygen

    _, stranger = keygen(tmp_path / "stranger")
    out = cli("log", "verify", "--state", host.state, "--key", stranger)
    assert out.code == 1 and "entry 1 is broken: bad signature" in out.stdout


# -------------------------------------------------------------------- crashes and contention


def test_kill_9_at_random_moments_leaves_a_log_that_verifies(host: Host) -> None:
    assert host.attest().code == 0  # the host key and the store exist
    rng = random.Random(11)
    completed = 1
    for _ in range(8):
        proc = subprocess.Popen(
            host.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=host.state
        )
        time.sleep(rng.uniform(0.0, 1.2))
        proc.send_signal(signal.SIGKILL)
        if proc.wait(timeout=60) == 0:
            completed += 1
        check = host.verify_log()
        assert check.code == 0, check.stdout
        assert len(rows(host.db)) >= completed
    assert host.attest().code == 0
    assert host.verify_log().code == 0


def test_full_disk_gives_a_clear_error_and_no_half_entry(host: Host) -> None:
    assert host.attest().code == 0
    before = rows(host.db)
    limit = 4096  # bytes: below one SQLite page of the write-ahead log

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        host.argv(),
        preexec_fn=small_disk,  # the limit must be set in the child, before exec
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = Outcome(proc.returncode, proc.stdout, proc.stderr)
    line = assert_one_line_error(out, 3)
    assert str(host.state) in line
    assert rows(host.db) == before
    assert host.verify_log().code == 0
    assert host.attest().code == 0  # and the next run works


@contextmanager
def held_lock(state: Path) -> Iterator[None]:
    fd = os.open(state / "attest.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_second_run_waits_then_exits_with_one_line(host: Host) -> None:
    assert host.attest().code == 0
    with held_lock(host.state):
        started = time.monotonic()
        out = host.attest("--lock-timeout", "0.5")
        assert time.monotonic() - started < 10
    assert_one_line_error(out, 3, "another chainguard attest is running")
    assert len(rows(host.db)) == 1


def test_two_concurrent_runs_both_land(host: Host) -> None:
    assert host.attest().code == 0
    procs = [
        subprocess.Popen(host.argv(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    assert [r[0] for r in rows(host.db)] == [1, 2, 3]
    assert host.verify_log().code == 0


# ------------------------------------------------------------------------------ telling someone


class _Receiver:
    def __init__(self, port: int) -> None:
        self.bodies: list[bytes] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_webhook_down_then_up_loses_nothing(host: Host) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/attestations"
    down = host.attest("--webhook", url, "--format", "json")
    assert down.code == 0, down.stderr  # a warning: verification itself passed
    finding = down.finding("attestation-undelivered", url)
    assert finding["severity"] == "warning"
    assert host.attest("--webhook", url).code == 0  # still down: two kept
    with _Receiver(port) as receiver:
        up = host.attest("--webhook", url, "--format", "json")
        assert up.code == 0
        assert "attestation-undelivered" not in up.rule_names
        assert len(receiver.bodies) == 3  # the two kept, then this run's, in order
        pub = host.pub.read_bytes()
        entries = [
            dsse_payload(b, pub)["predicate"]["chainguard"]["log"]["entry"] for b in receiver.bodies
        ]
        assert entries == [1, 2, 3]
        assert host.attest("--webhook", url).code == 0
        assert len(receiver.bodies) == 4  # nothing sent twice


def test_webhook_url_must_be_http(host: Host) -> None:
    out = host.attest("--webhook", "ftp://127.0.0.1/x")
    assert_one_line_error(out, 2, "--webhook")


def test_metrics_parse_back(host: Host, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    metrics = tmp_path / "chainguard.prom"
    assert host.attest("--metrics-file", metrics).code == 0
    (host.release.model / "config.json").write_bytes(b"{}")
    assert host.attest("--metrics-file", metrics).code == 1
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.read_text())
        for s in family.samples
    }
    assert samples[("chainguard_attest_result", (("result", "failed"),))] == 1
    assert samples[("chainguard_attest_result", (("result", "passed"),))] == 0
    key = (("rule", "artifact-modified"), ("severity", "error"))
    assert samples[("chainguard_attest_findings", key)] == 1
    assert samples[("chainguard_attest_log_entries", ())] == 2
    assert samples[("chainguard_attest_bytes_hashed", ())] > 0
    assert samples[("chainguard_attest_duration_seconds", ())] > 0
    assert time.time() - samples[("chainguard_attest_last_run_timestamp_seconds", ())] < 600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_could_not_verify_still_writes_report_and_error_metrics(host: Host, tmp_path: Path) -> None:
    report, metrics = tmp_path / "report.json", tmp_path / "m.prom"
    assert host.attest("--output", report, "--format", "json", "--metrics-file", metrics).code == 0
    host.release.sbom.unlink()
    out = host.attest("--output", report, "--format", "json", "--metrics-file", metrics)
    assert out.code == 3
    doc = json.loads(report.read_text())
    assert doc["ok"] is False and doc["error"]
    assert 'chainguard_attest_result{result="error"} 1.0' in metrics.read_text()


# ----------------------------------------------------------------------------- permissions


def test_world_writable_state_directory_refused(host: Host) -> None:
    assert host.attest().code == 0
    host.state.chmod(0o777)
    line = assert_one_line_error(host.attest(), 3, str(host.state), "chmod go-w")
    assert "state directory" in line


def test_world_writable_host_key_refused(host: Host) -> None:
    assert host.attest().code == 0
    (host.state / "host.key").chmod(0o622)
    assert_one_line_error(host.attest(), 3, "host.key", "chmod go-w")


def test_readable_host_key_refused(host: Host) -> None:
    assert host.attest().code == 0
    (host.state / "host.key").chmod(0o644)
    assert_one_line_error(host.attest(), 3, "host.key", "chmod 600")


def test_named_host_key_must_exist(host: Host, tmp_path: Path) -> None:
    out = host.attest("--host-key", tmp_path / "typo.key")
    assert_one_line_error(out, 3, "typo.key", "chainguard keygen")
    assert not (tmp_path / "typo.key").exists()


# ------------------------------------------------------------------------ [attest] and the log


def test_attest_table_supplies_the_options(host: Host, tmp_path: Path) -> None:
    with host.config.open("a") as f:
        f.write(
            f'[attest]\nstate = "{host.state}"\nattestation = "{tmp_path / "t.json"}"\n'
            f'metrics_file = "{tmp_path / "t.prom"}"\nformat = "json"\n'
            f'output = "{tmp_path / "t-report.json"}"\nlow_priority = false\n'
        )
    out = cli("attest", "--config", host.config)
    assert out.code == 0, out.stderr
    assert (tmp_path / "t.json").is_file() and (tmp_path / "t.prom").is_file()
    assert json.loads((tmp_path / "t-report.json").read_text())["ok"] is True
    assert len(rows(host.db)) == 1


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ("[attest]\nwebhok = 'x'\n", "unknown key(s) webhok"),
        ("[attest]\nlock_timeout = -1\n", "attest.lock_timeout"),
        ("[attest]\nformat = 'html'\n", "attest.format"),
        ("attest = 3\n", "attest must be a table"),
        ("[attest]\nmax_read_rate = 'fast'\n", "attest.max_read_rate: read rate 'fast'"),
        ("[attest]\nmax_read_rate = '200MiB'\n", "attest.max_read_rate"),
        ("[attest]\nmax_read_rate = 200\n", "attest.max_read_rate must be a rate"),
        ("[attest]\nmax_read_rate = '1B/s'\n", "between 4KiB/s and 1PiB/s"),
        ("[attest]\nincremental = 'yes'\n", "attest.incremental must be true or false"),
        ("[attest]\nlow_priority = 1\n", "attest.low_priority must be true or false"),
        ("[attest]\nfull_rehash_every = '1 day'\n", "attest.full_rehash_every: duration"),
        ("[attest]\nfull_rehash_every = '0h'\n", "attest.full_rehash_every"),
        ("[attest]\nfull_rehash_every = 86400\n", "attest.full_rehash_every must be"),
        ("[attest]\ndataset_sample = 1.5\n", "attest.dataset_sample"),
        ("[attest]\ndataset_sample = -0.1\n", "attest.dataset_sample"),
        ("[attest]\ndataset_sample = nan\n", "attest.dataset_sample"),
        ("[attest]\ndataset_sample = true\n", "attest.dataset_sample"),
    ],
)
def test_malformed_attest_table(host: Host, table: str, needle: str) -> None:
    text = host.config.read_text()
    host.config.write_text(table + text if table.startswith("attest") else text + table)
    assert_one_line_error(host.attest(), 3, needle)


def test_log_show_since(host: Host) -> None:
    for _ in range(2):
        assert host.attest().code == 0
    text = cli("log", "show", "--state", host.state)
    assert text.code == 0 and len(text.stdout.splitlines()) == 2
    assert "PASSED" in text.stdout and "sha256:" in text.stdout
    recent = cli("log", "show", "--state", host.state, "--since", "1h", "--format", "json")
    assert [r["seq"] for r in json.loads(recent.stdout)] == [1, 2]
    future = cli("log", "show", "--state", host.state, "--since", "2999-01-01T00:00:00Z")
    assert future.code == 0 and future.stdout == ""


@pytest.mark.parametrize("since", ["yesterday", "-5h", "2026-13-01", ""])
def test_log_show_malformed_since(host: Host, since: str) -> None:
    assert host.attest().code == 0
    assert_one_line_error(cli("log", "show", "--state", host.state, "--since", since), 2, "--since")


def test_log_commands_without_a_log(tmp_path: Path) -> None:
    assert_one_line_error(cli("log", "show", "--state", tmp_path / "none"), 3, "no attestation log")
    (tmp_path / "k.pub").write_text("not a key")
    out = cli("log", "verify", "--state", tmp_path, "--key", tmp_path / "k.pub")
    assert_one_line_error(out, 3, "k.pub")


def test_malformed_log_rows_are_reported_not_raised(host: Host) -> None:
    _three_entries(host)
    edit(host.db, ("UPDATE attest_log SET signature = ? WHERE seq = 3", (b"\xff{not json",)))
    out = host.verify_log()
    assert out.code == 1 and "entry 3 is broken: bad signature" in out.stdout
    assert cli("log", "show", "--state", host.state).code == 0


def test_console_script_runs_attest(host: Host) -> None:
    """The installed executable (what cron runs), not only the in-process app."""
    proc = subprocess.run(host.argv(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "log entry 1" in proc.stderr


# ------------------------------------------ incremental, read rate, drift and coverage notes


def _notes(out: Outcome, rule: str) -> list[dict[str, Any]]:
    return [f for f in out.report["findings"] if f["rule"] == rule]


def _coverage(out: Outcome) -> dict[str, tuple[int, int]]:
    """root → (files read this run, files the cache knows), from the coverage notes."""
    import re

    found = {}
    for note in _notes(out, "coverage"):
        assert note["severity"] == "note"
        match = re.search(r"(\d+) of (\d+) file\(s\) read this run", note["message"])
        assert match, note
        found[note["path"]] = (int(match[1]), int(match[2]))
    return found


def _settle(*roots: Path) -> None:
    """Wait until every file's ctime is older than the hash cache's racy window (2 s): files
    changed more recently are hashed but not cached."""
    newest = max(p.stat().st_ctime for r in roots for p in r.rglob("*"))
    time.sleep(max(0.0, newest + 2.1 - time.time()))


@pytest.mark.parametrize("rate", ["fast", "200MiB", "0B/s", "-5MiB/s", "1B/s", ""])
def test_malformed_max_read_rate_is_a_usage_error(host: Host, rate: str) -> None:
    assert_one_line_error(host.attest("--max-read-rate", rate), 2, "--max-read-rate")


def test_max_read_rate_from_the_command_line_and_the_table(host: Host) -> None:
    """Timed from below only: the bucket starts empty, so every byte hashed waits for its
    share of the rate; a faster machine cannot make a limited run finish sooner."""
    total = sum(p.stat().st_size for p in host.release.model.rglob("*") if p.is_file())
    assert total > 4096
    started = time.monotonic()
    assert host.attest("--max-read-rate", "8KiB/s").code == 0
    assert time.monotonic() - started >= total / 8192 * 0.9
    with host.config.open("a") as f:
        f.write('[attest]\nmax_read_rate = "1GiB/s"\n')
    started = time.monotonic()
    assert host.attest("--max-read-rate", "4KiB/s").code == 0  # the command line wins
    assert time.monotonic() - started >= total / 4096 * 0.9
    host.config.write_text(host.config.read_text().replace("1GiB/s", "8KiB/s"))
    started = time.monotonic()
    assert host.attest().code == 0  # the table alone
    assert time.monotonic() - started >= total / 8192 * 0.9


def test_incremental_from_the_table_reads_nothing_unchanged(host: Host) -> None:
    with host.config.open("a") as f:
        f.write("[attest]\nincremental = true\n")
    _settle(host.release.model)
    root = str(host.release.model)
    first = host.attest("--format", "json")
    assert first.code == 0, first.stderr
    assert _coverage(first) == {root: (3, 3)}
    assert (host.state / "hash-cache.db").is_file()
    second = host.attest("--format", "json")
    assert second.code == 0 and second.report["ok"] is True
    assert _coverage(second) == {root: (0, 3)}  # nothing read again
    # the command line wins over the table
    full = host.attest("--no-incremental", "--format", "json")
    assert full.code == 0 and _coverage(full) == {}


def test_drift_notes_in_the_report(host: Host, tmp_path: Path) -> None:
    first = host.attest("--format", "json")
    (drift,) = _notes(first, "drift")
    assert drift["severity"] == "note" and drift["message"].startswith("first run: 0 new")
    config = host.release.model / "config.json"
    original = config.read_bytes()
    config.write_bytes(original + b" ")
    tampered = host.attest("--format", "json")
    assert tampered.code == 1
    (drift,) = _notes(tampered, "drift")
    assert drift["message"] == "since run 1: 1 new, 0 resolved, 0 unchanged"
    assert _notes(tampered, "finding-resolved") == []
    config.write_bytes(original)
    restored = host.attest("--format", "json")
    assert restored.code == 0 and restored.report["ok"] is True  # notes never fail a run
    (drift,) = _notes(restored, "drift")
    assert drift["message"] == "since run 2: 0 new, 1 resolved, 0 unchanged"
    (resolved,) = _notes(restored, "finding-resolved")
    assert (resolved["path"], resolved["component"]) == ("config.json", "model:weights")
    assert resolved["severity"] == "note" and "artifact-modified" in resolved["message"]
    # the notes are not findings the next run compares with; and every format carries them
    sarif = host.attest("--format", "sarif", "--output", tmp_path / "r.sarif")
    assert sarif.code == 0
    results = json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["drift"]
    assert "since run 3: 0 new, 0 resolved, 0 unchanged" in results[0]["message"]["text"]
    for format_ in ("text", "markdown"):
        out = host.attest("--format", format_)
        assert out.code == 0 and "since run" in out.stdout and "drift" in out.stdout
    # the log agrees: drift counts only real findings
    shown = json.loads(cli("log", "show", "--state", host.state, "--format", "json").stdout)
    assert [r["drift"]["new"] for r in shown] == [0, 1, 0, 0, 0, 0]


def test_coverage_note_with_dataset_sample(tmp_path: Path) -> None:
    data = {f"shard-{i:02}.jsonl": f'{{"row": {i}}}\n'.encode() for i in range(12)}
    release = make_release(
        tmp_path / "release", models={"weights": MODEL_FILES}, datasets={"corpus": data}
    )
    host = make_host(tmp_path, release=release)
    with host.config.open("a") as f:
        f.write(
            f'[datasets]\ncorpus = "{release.data}"\n'
            '[attest]\nincremental = true\ndataset_sample = 0.5\nfull_rehash_every = "24h"\n'
        )
    _settle(release.model, release.data)
    model, dataset = str(release.model), str(release.data)
    runs = [host.attest("--format", "json") for _ in range(3)]
    assert all(r.code == 0 for r in runs), [r.stderr for r in runs]
    assert _coverage(runs[0]) == {model: (3, 3), dataset: (12, 12)}  # the first run reads all
    (note,) = [n for n in _notes(runs[1], "coverage") if n["path"] == dataset]
    assert "a 0.5 sample re-read each run" in note["message"]
    assert "least recently read" in note["message"]
    # runs 2 and 3 each re-read one half of the dataset, and nothing of the model
    read = [_coverage(r)[dataset][0] for r in runs[1:]]
    assert 0 < read[0] < 12 and sum(read) == 12
    assert [_coverage(r)[model] for r in runs[1:]] == [(0, 3), (0, 3)]
