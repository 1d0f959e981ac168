"""The attestation log's chain and its verification, drift, the [attest] table, webhook URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainguard.api.attestation import sign_bundle
from chainguard.attest.drift import compute_drift, finding_keys
from chainguard.attest.log import (
    LOG_ENTRY_TYPE,
    AttestationLog,
    StoredEntry,
    sha256_hex,
    verify_log,
)
from chainguard.attest.webhook import DeliveryPolicy, check_url, deliver_pending
from chainguard.config import parse_config
from chainguard.errors import ConfigError, StateError, UsageError
from chainguard.findings import Finding
from chainguard.trust.keys import SigningKey, generate_keypair, load_private_key


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    private, _ = generate_keypair(tmp_path / "host")
    return load_private_key(private, None)


def _fill(log: AttestationLog, key: SigningKey, n: int) -> list[StoredEntry]:
    stored = []
    for i in range(n):
        attestation = sign_bundle(b'{"run": %d}' % i, "application/vnd.in-toto+json", key)
        stored.append(
            log.append(
                {"attestation": sha256_hex(attestation), "findings": [], "result": "PASSED"},
                attestation,
                lambda data: sign_bundle(data, LOG_ENTRY_TYPE, key),
                previous=log.head(),
                deliver=i % 2 == 0,
            )
        )
    return stored


def test_chain_verifies_and_head_moves(tmp_path: Path, key: SigningKey) -> None:
    with AttestationLog(tmp_path / "s") as log:
        stored = _fill(log, key, 4)
        check = verify_log(log.entries(), key.trusted_key, "log")
        assert check.ok and check.length == 4 and check.head == stored[-1].digest
        assert [s for s, _ in log.undelivered()] == [1, 3]
        log.delivered(1)
        assert [s for s, _ in log.undelivered()] == [3]


def test_empty_log_is_intact(tmp_path: Path, key: SigningKey) -> None:
    with AttestationLog(tmp_path) as log:
        check = verify_log(log.entries(), key.trusted_key, "log")
    assert check.ok and check.length == 0 and check.head is None


def test_stale_head_refused(tmp_path: Path, key: SigningKey) -> None:
    with AttestationLog(tmp_path) as log:
        _fill(log, key, 1)
        stale = None  # as if this run had read the log before another writer appended
        with pytest.raises(StateError, match="changed during this run"):
            log.append({"findings": []}, b"{}", lambda d: d, previous=stale, deliver=False)
        assert log.length() == 1


def test_missing_log_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="no attestation log"):
        AttestationLog(tmp_path, create=False)


def test_drift_keys_and_counts() -> None:
    before = finding_keys([Finding("artifact-modified", "a", "m", component="model:x")])
    now = finding_keys(
        [
            Finding("artifact-modified", "a", "other wording", component="model:x"),
            Finding("artifact-missing", "b", "m"),
        ]
    )
    drift = compute_drift(before, 7, now)
    assert drift.new == (("artifact-missing", "b", ""),)
    assert drift.resolved == ()
    assert drift.unchanged == (("artifact-modified", "a", "model:x"),)
    assert drift.summary() == "drift (since entry 7): 1 new, 0 resolved, 1 unchanged"
    first = compute_drift(None, None, now)
    assert first.counts() == {"new": 2, "resolved": 0, "unchanged": 0}


def test_attest_table_parsed(tmp_path: Path) -> None:
    cfg = parse_config(
        {"attest": {"state": "st", "webhook": "https://h/x", "lock_timeout": 5}},
        tmp_path / "chainguard.toml",
    )
    assert cfg.attest.state == tmp_path / "st"
    assert cfg.attest.webhook == "https://h/x"
    assert cfg.attest.lock_timeout == 5.0
    assert parse_config({}, tmp_path / "c.toml").attest.state is None


@pytest.mark.parametrize(
    "table",
    [{"state": 3}, {"lock_timeout": True}, {"lock_timeout": "5"}, {"webhook": ""}, {"x": 1}],
)
def test_attest_table_malformed(tmp_path: Path, table: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="attest"):
        parse_config({"attest": table}, tmp_path / "chainguard.toml")


@pytest.mark.parametrize(
    "url",
    ["ftp://h/x", "file:///etc/passwd", "http://", "h/x", "", "http://[::1/x", "http://h:99999/"],
)
def test_webhook_url_checked(url: str) -> None:
    with pytest.raises(UsageError):
        check_url(url)


def test_delivery_stops_at_first_failure_and_keeps_the_rest() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    marked: list[int] = []
    left, reason = deliver_pending(
        f"http://127.0.0.1:{port}/",
        [(1, b"{}"), (2, b"{}")],
        marked.append,
        DeliveryPolicy(attempts=2, timeout=1.0, backoff=0.01),
    )
    assert left == [1, 2] and marked == [] and reason
