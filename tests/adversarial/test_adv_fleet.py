"""fleet status against an attacker who controls the registry (and, in places, a host's
clock): the registry's tags, manifests, annotations and blobs are rewritten in a real
docker-registry; nothing but a VSA that verifies under the host's enrolled key may count as
that host's state, and every read is bounded."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.cli import assert_one_line_error, cli
from support.fleet import FleetHost, enroll, make_fleet_host
from support.registry_server import (
    RegistryServer,
    blob,
    manifest,
    put_blob,
    put_manifest,
    registry,
    replace_layer,
    tags,
)

__all__ = ["registry"]  # the fixture


def status(server: RegistryServer, keys: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = cli("fleet", "status", server.url(), "--host-keys", keys, "--format", "json", *extra)
    assert out.code in (0, 1), (out.code, out.stderr)
    doc: dict[str, Any] = json.loads(out.stdout)
    assert doc["ok"] is (out.code == 0)
    return out.code, doc


def row(doc: dict[str, Any], host: str) -> dict[str, Any]:
    (found,) = [r for r in doc["hosts"] if r["host"] == host]
    return found


def untrusted(doc: dict[str, Any]) -> list[str]:
    return [f["message"] for f in doc["findings"] if f["rule"] == "attestation-untrusted"]


def layer_of(server: RegistryServer, tag: str) -> bytes:
    layers = manifest(server, tag)["layers"]
    assert isinstance(layers, list)
    return blob(server, layers[0]["digest"])


def edit_payload(bundle: bytes, edit: Any) -> bytes:
    """The bundle with its signed statement edited by ``edit`` and the signature kept."""
    doc = json.loads(bundle)
    envelope = doc["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    edit(statement)
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps(doc).encode()


def sign_as(key_path: Path, statement: dict[str, Any]) -> bytes:
    """A bundle over ``statement`` signed with the key at ``key_path`` (a real signature)."""
    from chainguard.api.attestation import sign_bundle
    from chainguard.trust.keys import load_private_key

    key = load_private_key(key_path, None)
    return sign_bundle(json.dumps(statement).encode(), "application/vnd.in-toto+json", key)


def statement_of(bundle: bytes) -> dict[str, Any]:
    doc = json.loads(bundle)
    result: dict[str, Any] = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    return result


@pytest.fixture
def alpha(tmp_path: Path, registry: RegistryServer) -> FleetHost:
    host = make_fleet_host(tmp_path, "alpha")
    assert host.attest(registry.url()).code == 0
    return host


def newer_tag(tag: str, seconds: int = 60) -> str:
    host, stamp, seq = tag.split("_")
    when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ") + timedelta(seconds=seconds)
    return f"{host}_{when.strftime('%Y%m%dT%H%M%SZ')}_{int(seq) + 1}"


# ------------------------------------------------------------------- what the signature covers


def test_failed_host_edited_to_passed_is_untrusted_and_stays_failed(
    registry: RegistryServer, tmp_path: Path
) -> None:
    host = make_fleet_host(tmp_path, "bravo")
    host.break_model()
    assert host.attest(registry.url()).code == 1
    (tag,) = tags(registry)

    def passed(statement: dict[str, Any]) -> None:
        statement["predicate"]["verificationResult"] = "PASSED"
        statement["predicate"]["chainguard"]["findings"] = []

    replace_layer(registry, tag, edit_payload(layer_of(registry, tag), passed), newer_tag(tag))
    code, doc = status(registry, enroll(tmp_path / "keys", host))
    assert code == 1
    assert row(doc, "bravo")["state"] == "failed"  # the trusted attestation, not the edit
    assert row(doc, "bravo")["tag"] == tag
    assert row(doc, "bravo")["untrusted"] == 1
    assert "not signed by bravo's enrolled key" in untrusted(doc)[0]


def test_annotations_that_lie_change_nothing(registry: RegistryServer, tmp_path: Path) -> None:
    host = make_fleet_host(tmp_path, "bravo")
    host.break_model()
    assert host.attest(registry.url()).code == 1
    (tag,) = tags(registry)
    doc = manifest(registry, tag)
    doc["annotations"] = {
        "dev.chainguard.attestation.host": "bravo",
        "dev.chainguard.attestation.result": "PASSED",
        "dev.chainguard.attestation.time": "2099-01-01T00:00:00Z",
        "org.opencontainers.image.created": "2099-01-01T00:00:00Z",
    }
    put_manifest(registry, tag, doc)
    put_manifest(registry, newer_tag(tag), doc)
    keys = enroll(tmp_path / "keys", host)
    code, out = status(registry, keys)
    assert code == 1
    assert row(out, "bravo")["state"] == "failed"
    assert row(out, "bravo")["result"] == "FAILED"
    assert row(out, "bravo")["time"] != "2099-01-01T00:00:00Z"
    time.sleep(1.1)
    code, out = status(registry, keys, "--stale", "1s")  # the annotated time refreshes nothing
    assert row(out, "bravo")["state"] == "silent"


def test_attacker_key_in_the_bundle_is_never_used(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path
) -> None:
    (tag,) = tags(registry)
    assert cli("keygen", tmp_path / "attacker").code == 0
    statement = statement_of(layer_of(registry, tag))
    statement["predicate"]["timeVerified"] = datetime.now(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    forged = sign_as(tmp_path / "attacker.key", statement)  # carries the attacker's public key
    replace_layer(registry, tag, forged, newer_tag(tag))
    code, doc = status(registry, enroll(tmp_path / "keys", alpha))
    assert code == 1  # an untrusted attestation is reported as an error
    assert row(doc, "alpha")["tag"] == tag  # still the genuine one
    assert len(untrusted(doc)) == 1


def test_attestation_replayed_under_another_host_name(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path
) -> None:
    """bravo is enrolled with alpha's key (an operator's copy-paste): alpha's attestations
    retagged as bravo's still do not make bravo's state: they are signed for alpha."""
    (tag,) = tags(registry)
    doc = manifest(registry, tag)
    put_manifest(registry, "bravo" + tag.removeprefix("alpha"), doc)
    keys = enroll(tmp_path / "keys", alpha)
    (keys / "bravo.pub").write_bytes(alpha.pub.read_bytes())
    code, out = status(registry, keys)
    assert code == 1
    assert row(out, "alpha")["state"] == "passing"
    assert row(out, "bravo")["state"] == "silent"
    assert "signed for host 'alpha', not bravo" in untrusted(out)[0]


@pytest.mark.slow  # waits for the attestation to age
def test_old_attestation_retagged_as_new_is_judged_by_its_signed_time(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path
) -> None:
    (tag,) = tags(registry)
    time.sleep(2.1)
    put_manifest(registry, newer_tag(tag, 3600), manifest(registry, tag))
    code, doc = status(registry, enroll(tmp_path / "keys", alpha), "--stale", "2s")
    assert code == 1
    assert row(doc, "alpha")["state"] == "silent"


def test_signed_time_in_the_future_is_untrusted(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path
) -> None:
    """A host (or its stolen key) cannot stay fresh forever by signing a future time."""
    (tag,) = tags(registry)
    statement = statement_of(layer_of(registry, tag))
    statement["predicate"]["timeVerified"] = "2099-01-01T00:00:00Z"
    signed = sign_as(alpha.state / "host.key", statement)
    replace_layer(registry, tag, signed, newer_tag(tag))
    code, doc = status(registry, enroll(tmp_path / "keys", alpha))
    assert code == 1
    assert row(doc, "alpha")["tag"] == tag
    assert "in the future" in untrusted(doc)[0]


# ------------------------------------------------------------------------- malformed artifacts


@pytest.mark.parametrize(
    "breakage",
    ["wrong-artifact-type", "two-layers", "huge-declared-size"],
)
def test_malformed_manifest_is_untrusted(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path, breakage: str
) -> None:
    (tag,) = tags(registry)
    doc = manifest(registry, tag)
    layers = doc["layers"]
    assert isinstance(layers, list)
    if breakage == "wrong-artifact-type":
        bad = {**doc, "artifactType": "application/vnd.example+json"}
    elif breakage == "two-layers":
        bad = {**doc, "layers": [layers[0], layers[0]]}
    else:
        bad = {**doc, "layers": [{**layers[0], "size": 1 << 40}]}
    put_manifest(registry, newer_tag(tag), bad)
    code, out = status(registry, enroll(tmp_path / "keys", alpha))
    assert code == 1
    assert row(out, "alpha")["state"] == "passing"  # the genuine one still counts
    assert len(untrusted(out)) == 1


def test_blob_that_does_not_match_its_digest(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path
) -> None:
    """The registry's storage rewritten behind its back: the bytes served are not the
    digest's; they are refused whatever they say."""
    (tag,) = tags(registry)
    layers = manifest(registry, tag)["layers"]
    assert isinstance(layers, list)
    digest = layers[0]["digest"].removeprefix("sha256:")
    data = registry.storage / "docker/registry/v2/blobs/sha256" / digest[:2] / digest / "data"
    original = data.read_bytes()
    data.write_bytes(original.replace(b'"dsseEnvelope"', b'"dsseEnvelopE"'))
    code, out = status(registry, enroll(tmp_path / "keys", alpha))
    assert code == 1
    assert row(out, "alpha")["state"] == "silent"
    assert "does not match its digest" in untrusted(out)[0]


def test_manifest_larger_than_the_bound(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path
) -> None:
    (tag,) = tags(registry)
    doc = manifest(registry, tag)
    doc["annotations"] = {"padding": "x" * (80 * 1024)}
    put_manifest(registry, newer_tag(tag), doc)
    code, out = status(registry, enroll(tmp_path / "keys", alpha))
    assert code == 1
    assert row(out, "alpha")["state"] == "passing"
    assert "limit" in untrusted(out)[0] or "exceeds" in untrusted(out)[0]


def test_flood_of_tags_is_bounded(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path
) -> None:
    """Junk tags under an enrolled name: at most MAX_CANDIDATES are fetched, the host fails
    closed (its real attestation is pushed out of the window), and nothing hangs."""
    from chainguard.fleet.status import MAX_CANDIDATES

    (tag,) = tags(registry)
    junk = put_blob(registry, b"junk")
    doc = manifest(registry, tag)
    layers = doc["layers"]
    assert isinstance(layers, list)
    bad = {**doc, "layers": [{**layers[0], "digest": junk, "size": 4}]}
    for i in range(MAX_CANDIDATES + 4):
        put_manifest(registry, newer_tag(tag, 60 + i), bad)
        put_manifest(registry, f"zulu_20990101T000000Z_{i}", bad)  # unenrolled: never fetched
    code, out = status(registry, enroll(tmp_path / "keys", alpha))
    assert code == 1
    assert row(out, "alpha")["untrusted"] == MAX_CANDIDATES
    assert row(out, "alpha")["state"] == "silent"
    assert row(out, "zulu")["state"] == "unenrolled"


def test_a_fleet_beyond_one_listing_reads_each_enrolled_hosts_own_tags(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More tags than one listing may hold: each enrolled host's run ("HOST_...") is listed
    on its own (the API's `last`), so a big fleet does not hide a host's newest attestation."""
    import chainguard.fleet.oci as oci

    (tag,) = tags(registry)
    doc = manifest(registry, tag)
    for i in range(6):
        put_manifest(registry, f"zulu_20260101T000000Z_{i}", doc)
    monkeypatch.setattr(oci, "MAX_TAGS", 3)
    monkeypatch.setattr(oci, "TAGS_PER_PAGE", 2)
    code, out = status(registry, enroll(tmp_path / "keys", alpha))
    assert out["tags_truncated"] is False
    assert row(out, "alpha")["state"] == "passing"
    assert row(out, "zulu")["state"] == "unenrolled"  # from the first (cut) listing
    assert code == 0


def test_a_hosts_own_tags_beyond_the_bound_fail_closed(
    registry: RegistryServer, alpha: FleetHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chainguard.fleet.oci as oci

    (tag,) = tags(registry)
    doc = manifest(registry, tag)
    for i in range(5):
        put_manifest(registry, newer_tag(tag, -3600 * (i + 1)), doc)  # older names, same VSA
    monkeypatch.setattr(oci, "MAX_TAGS", 3)
    monkeypatch.setattr(oci, "TAGS_PER_PAGE", 2)
    code, out = status(registry, enroll(tmp_path / "keys", alpha))
    assert out["tags_truncated"] is True
    assert out["tags_listed"] == 3
    assert code == 1  # fails closed: a newer attestation may be beyond the cut
    assert "registry-listing-truncated" in {f["rule"] for f in out["findings"]}


# --------------------------------------------------------------------- a hostile registry server


@contextmanager
def hostile_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


class HugeTagList(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            self.wfile.write(b'{"tags": [')
            for _ in range(4096):  # 4 MiB of tags, no Content-Length
                self.wfile.write(b'"a",' * 256)
        except OSError:
            return  # the client stopped reading: what is wanted

    def log_message(self, *args: object) -> None:
        pass


class Silent(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(5)

    def log_message(self, *args: object) -> None:
        pass


def test_unbounded_tag_list_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    assert cli("keygen", tmp_path / "keys" / "alpha").code == 0
    with hostile_server(HugeTagList) as port:
        out = cli("fleet", "status", f"oci://127.0.0.1:{port}/r", "--host-keys", tmp_path / "keys")
    assert_one_line_error(out, 3, "exceeds")


def test_registry_that_never_answers_times_out() -> None:
    from chainguard.errors import RegistryError
    from chainguard.fleet.oci import Registry, parse_reference

    with hostile_server(Silent) as port:
        ref = parse_reference(f"oci://127.0.0.1:{port}/r", insecure=False, option="x")
        started = time.monotonic()
        with pytest.raises(RegistryError, match="timed out"):
            Registry(ref, timeout=0.5).tags()
        assert time.monotonic() - started < 3


def test_port_that_refuses_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "keys").mkdir()
    assert cli("keygen", tmp_path / "keys" / "alpha").code == 0
    out = cli("fleet", "status", f"oci://127.0.0.1:{port}/r", "--host-keys", tmp_path / "keys")
    assert_one_line_error(out, 3, "connection refused")


def test_edited_queue_entry_is_reported_not_a_traceback(
    registry: RegistryServer, tmp_path: Path
) -> None:
    """The state store edited while the registry was down: the queued attestation cannot be
    published; the run still attests and says where to look."""
    import sqlite3

    from support.registry_server import free_port

    host = make_fleet_host(tmp_path, "alpha")
    assert host.attest(f"oci://127.0.0.1:{free_port()}/fleet/attestations").code == 0
    with sqlite3.connect(host.state / "attest.db") as db:
        db.execute("UPDATE attest_log SET attestation = ? WHERE seq = 1", (b"{}",))
    db.close()
    out = host.attest(registry.url(), "--format", "json")
    assert out.code == 0, out.stderr
    finding = out.finding("attestation-unpublished", registry.url())
    assert "log verify" in finding["message"]
    assert "Traceback" not in out.stderr


class Dripping(BaseHTTPRequestHandler):
    """Answers /v2/, then sends a tag list one byte at a time, each within the timeout."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        if self.path == "/v2/":
            self.wfile.write(b"{}")
            return
        try:
            for _ in range(200):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            return

    def log_message(self, *args: object) -> None:
        pass


def test_registry_dripping_bytes_is_cut_off() -> None:
    from chainguard.errors import RegistryError
    from chainguard.fleet.oci import Registry, parse_reference

    with hostile_server(Dripping) as port:
        ref = parse_reference(f"oci://127.0.0.1:{port}/r", insecure=False, option="x")
        started = time.monotonic()
        with pytest.raises(RegistryError, match="timed out"):
            Registry(ref, timeout=0.2).tags()
        assert time.monotonic() - started < 4  # 6 timeouts, not 200 x 0.05 s


def test_credentials_never_go_to_a_token_service_in_the_clear(tmp_path: Path) -> None:
    # A registry (or whoever edits its answers) that sends clients to a plain-HTTP token
    # service elsewhere would have them post the registry password over the network in clear.
    from support.registry_server import start_registry, stop_registry
    from support.token_server import ISSUER, SERVICE, TokenServer

    tokens = TokenServer({"ci": "s3cret"}, tmp_path / "tokens")
    elsewhere = (
        "auth:\n  token:\n    realm: http://token.example.invalid/token\n"
        f"    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {tokens.bundle}\n"
    )
    server = start_registry(tmp_path / "registry", auth=elsewhere)
    try:
        host = make_fleet_host(tmp_path, "alpha")
        env = {"CHAINGUARD_REGISTRY_PASSWORD": "s3cret"}
        published = host.attest(server.url(), "--username", "ci", "--format", "json", env=env)
        message = published.finding("attestation-unpublished", server.url())["message"]
        assert "in the clear" in message
        keys = enroll(tmp_path / "keys", host)  # its key exists once it has attested
        out = cli("fleet", "status", server.url(), "--host-keys", keys, "--username", "ci", env=env)
        assert_one_line_error(out, 3, "in the clear")
        assert "token.example.invalid" in out.stderr
    finally:
        stop_registry(server)
        tokens.stop()
