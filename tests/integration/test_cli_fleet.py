"""attest --publish and fleet status against a real registry (Debian's docker-registry on
127.0.0.1) with several simulated hosts, each with its own state directory and host key."""

from __future__ import annotations

import base64
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from support import REPO_ROOT
from support.cli import Outcome, assert_one_line_error, cli, run_process
from support.fleet import enroll, make_fleet_host
from support.registry_server import RegistryServer, free_port, manifest, registry, tags
from support.release import MODEL_FILES, make_release

__all__ = ["registry"]  # the fixture
FLEET_SCHEMA = REPO_ROOT / "docs" / "fleet-schema.v1.json"


def status(server: RegistryServer, keys: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = cli("fleet", "status", server.url(), "--host-keys", keys, "--format", "json", *extra)
    assert out.code in (0, 1), (out.code, out.stderr)
    doc: dict[str, Any] = json.loads(out.stdout)
    Draft202012Validator(json.loads(FLEET_SCHEMA.read_text())).validate(doc)
    assert doc["schema"] == "chainguard.fleet/v1"
    assert doc["ok"] is (out.code == 0)
    return out.code, doc


def status_as_ci(server: RegistryServer, keys: Path, password: str) -> Outcome:
    """fleet status as the registry user ``ci`` with ``password``."""
    env = {"CHAINGUARD_REGISTRY_PASSWORD": password}
    return cli("fleet", "status", server.url(), "--host-keys", keys, "--username", "ci", env=env)


def rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["host"]: r for r in doc["hosts"]}


def rules(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["rule"], f["host"]) for f in doc["findings"]}


@pytest.mark.slow
def test_fleet_of_hosts(registry: RegistryServer, tmp_path: Path) -> None:
    url = registry.url()
    shared = make_release(tmp_path / "release", models={"weights": MODEL_FILES})
    passing = make_fleet_host(tmp_path, "alpha", shared)
    failing = make_fleet_host(tmp_path, "bravo")
    tampered = make_fleet_host(tmp_path, "charlie", shared)
    unenrolled = make_fleet_host(tmp_path, "delta", shared)
    silent = make_fleet_host(tmp_path, "echo", shared)

    assert silent.attest(url).code == 0
    time.sleep(1.1)  # signed times have whole seconds: --since falls between echo and the rest
    since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.0)
    failing.break_model()
    for host, code in ((passing, 0), (failing, 1), (tampered, 0), (unenrolled, 0)):
        out = host.attest(url, "--format", "json")
        assert out.code == code, out.stderr
        assert "attestation-unpublished" not in out.rule_names

    # charlie is enrolled with another key than the one it signs with
    assert cli("keygen", tmp_path / "other").code == 0
    keys = enroll(tmp_path / "keys", passing, failing, silent)
    (keys / "charlie.pub").write_bytes((tmp_path / "other.pub").read_bytes())

    code, doc = status(registry, keys)
    assert code == 1
    hosts = rows(doc)
    assert hosts["alpha"]["state"] == "passing"
    assert hosts["alpha"]["result"] == "PASSED"
    assert hosts["alpha"]["drift"] == {"new": 0, "resolved": 0, "unchanged": 0}
    assert hosts["bravo"]["state"] == "failed"
    assert hosts["bravo"]["result"] == "FAILED"
    assert [f["rule"] for f in hosts["bravo"]["findings"]] == ["artifact-modified"]
    assert hosts["bravo"]["drift"]["new"] == 1
    assert hosts["charlie"]["state"] == "silent"
    assert hosts["charlie"]["result"] is None  # never the untrusted attestation's PASSED
    assert hosts["charlie"]["untrusted"] == 1
    assert hosts["delta"]["enrolled"] is False
    assert hosts["delta"]["state"] == "unenrolled"
    assert hosts["echo"]["state"] == "passing"  # fresh within the default 2h
    assert rules(doc) == {
        ("host-failed", "bravo"),
        ("attestation-untrusted", "charlie"),
        ("host-silent", "charlie"),
        ("host-unenrolled", "delta"),
    }

    # echo published nothing since --since: silent
    code, doc = status(registry, keys, "--since", since)
    assert code == 1
    assert rows(doc)["echo"]["state"] == "silent"
    assert ("host-silent", "echo") in rules(doc)
    assert rows(doc)["alpha"]["state"] == "passing"

    # only the fresh, passing hosts enrolled: exit 0, unenrolled names are notes
    good = enroll(tmp_path / "good-keys", passing, silent)
    code, doc = status(registry, good)
    assert code == 0
    assert {r["host"]: r["state"] for r in doc["hosts"]}["alpha"] == "passing"

    text = cli("fleet", "status", url, "--host-keys", keys)
    assert text.code == 1
    assert "artifact-modified" in text.stdout  # a FAILED host shows its findings
    markdown = cli("fleet", "status", url, "--host-keys", keys, "--format", "markdown")
    assert markdown.code == 1
    assert "| alpha | passing |" in markdown.stdout


def test_stale_host_is_silent(registry: RegistryServer, tmp_path: Path) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    assert host.attest(registry.url()).code == 0
    keys = enroll(tmp_path / "keys", host)
    assert status(registry, keys)[0] == 0
    time.sleep(1.1)
    code, doc = status(registry, keys, "--stale", "1s")
    assert code == 1
    assert rows(doc)["alpha"]["state"] == "silent"
    assert rules(doc) == {("host-silent", "alpha")}


def test_enrolled_host_that_never_published_is_silent(
    registry: RegistryServer, tmp_path: Path
) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    (tmp_path / "keys").mkdir()
    assert cli("keygen", tmp_path / "keys" / "ghost").code == 0
    (tmp_path / "keys" / "ghost.key").unlink()
    assert host.attest(registry.url()).code == 0
    keys = enroll(tmp_path / "keys", host)
    code, doc = status(registry, keys)
    assert code == 1
    assert rows(doc)["ghost"]["state"] == "silent"
    assert rules(doc) == {("host-silent", "ghost")}


def test_publish_annotations_and_artifact_type(registry: RegistryServer, tmp_path: Path) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    assert host.attest(registry.url()).code == 0
    (tag,) = tags(registry)
    assert tag.startswith("alpha_") and tag.endswith("_1")
    doc = manifest(registry, tag)
    assert doc["artifactType"] == "application/vnd.chainguard.attestation.vsa.v1+json"
    annotations = doc["annotations"]
    assert isinstance(annotations, dict)
    assert annotations["dev.chainguard.attestation.host"] == "alpha"
    assert annotations["dev.chainguard.attestation.result"] == "PASSED"
    assert annotations["dev.chainguard.attestation.time"].endswith("Z")


def test_registry_down_keeps_attestations_and_next_run_pushes(
    tmp_path: Path, registry: RegistryServer
) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    down = f"oci://127.0.0.1:{free_port()}/fleet/attestations"
    out = host.attest(down, "--format", "json")
    assert out.code == 0, out.stderr  # a warning: the verification itself passed
    finding = out.finding("attestation-unpublished", down)
    assert finding["severity"] == "warning"
    assert "connection refused" in finding["message"]
    assert host.attest(down).code == 0  # still down: two kept
    up = host.attest(registry.url(), "--format", "json")
    assert up.code == 0
    assert "attestation-unpublished" not in up.rule_names
    assert sorted(int(t.rsplit("_", 1)[1]) for t in tags(registry)) == [1, 2, 3]
    assert host.attest(registry.url()).code == 0
    assert len(tags(registry)) == 4  # nothing pushed twice


def test_publish_from_config(registry: RegistryServer, tmp_path: Path) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    with host.config.open("a") as f:
        f.write(f'[attest]\npublish = "{registry.url()}"\nhost = "from-config"\n')
    out = cli("attest", "--config", host.config, "--state", host.state, "--normal-priority")
    assert out.code == 0, out.stderr
    (tag,) = tags(registry)
    assert tag.startswith("from-config_")


def test_plain_http_elsewhere_is_refused_before_connecting(tmp_path: Path) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    # 192.0.2.0/24 is TEST-NET-1: nothing answers there, and nothing is sent
    out = host.attest("http://192.0.2.1:5000/fleet/attestations")
    assert_one_line_error(out, 2, "refusing plain HTTP", "--insecure")
    assert not host.state.exists()  # refused before the run started
    keys = tmp_path / "keys"
    keys.mkdir()
    out = cli("fleet", "status", "http://192.0.2.1/fleet/a", "--host-keys", keys)
    assert_one_line_error(out, 2, "refusing plain HTTP")


@pytest.mark.parametrize(
    "address",
    [
        "docker://127.0.0.1/x",
        "oci://127.0.0.1/UPPER",
        "oci://user:pw@127.0.0.1/x",
        "oci://127.0.0.1",
        "oci://[::1/x",
    ],
)
def test_bad_registry_address_is_a_usage_error(tmp_path: Path, address: str) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    assert_one_line_error(host.attest(address), 2, "--publish")


def test_bad_host_name_is_a_usage_error(tmp_path: Path, registry: RegistryServer) -> None:
    host = make_fleet_host(tmp_path, "bad_name")
    assert_one_line_error(host.attest(registry.url()), 2, "--host")


def test_registry_down_for_status_is_exit_3(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    assert cli("keygen", keys / "alpha").code == 0
    (keys / "alpha.key").unlink()
    down = f"oci://127.0.0.1:{free_port()}/fleet/attestations"
    out = cli("fleet", "status", down, "--host-keys", keys)
    assert_one_line_error(out, 3, "connection refused")


def test_no_enrolled_keys_is_a_usage_error(tmp_path: Path, registry: RegistryServer) -> None:
    (tmp_path / "keys").mkdir()
    out = cli("fleet", "status", registry.url(), "--host-keys", tmp_path / "keys")
    assert_one_line_error(out, 2, "no NAME.pub")


def run_without_oras(cwd: Path, *args: str | Path) -> Outcome:
    """A fresh interpreter where oras is absent (see tests/integration/test_cli_extras.py)."""
    code = (
        "import sys\nsys.modules['oras'] = None\n"
        "from chainguard.cli import main\nmain(sys.argv[1:])\n"
    )
    return run_process([sys.executable, "-c", code, *args], cwd)


@pytest.mark.slow  # three fresh interpreters
def test_without_the_fleet_extra_both_commands_say_which_extra(tmp_path: Path) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    url = f"oci://127.0.0.1:{free_port()}/fleet/attestations"
    needed = (
        "publishing to an OCI registry (attest --publish, fleet status) needs the 'fleet' extra: "
        "pip install 'chainguard[fleet]'"
    )
    out = run_without_oras(
        tmp_path, "attest", "--config", host.config, "--state", host.state, "--publish", url
    )
    assert_one_line_error(out, 2, needed)
    assert not host.state.exists()  # said before anything ran
    keys = tmp_path / "keys"
    keys.mkdir()
    assert_one_line_error(
        run_without_oras(tmp_path, "fleet", "status", url, "--host-keys", keys), 2, needed
    )
    # attest without --publish does not need it
    plain = run_without_oras(
        tmp_path, "attest", "--config", host.config, "--state", host.state, "--normal-priority"
    )
    assert plain.code == 0, plain.stderr


def test_registry_credentials_from_username_and_environment(tmp_path: Path) -> None:
    from support.registry_server import start_registry, stop_registry

    server = start_registry(tmp_path / "auth-registry", users={"ci": "s3cret"})
    try:
        host = make_fleet_host(tmp_path, "alpha")
        anonymous = host.attest(server.url(), "--format", "json")
        assert anonymous.code == 0
        assert "401" in anonymous.finding("attestation-unpublished", server.url())["message"]
        env = {"CHAINGUARD_REGISTRY_PASSWORD": "s3cret"}
        out = host.attest(server.url(), "--username", "ci", "--format", "json", env=env)
        assert out.code == 0, out.stderr
        assert "attestation-unpublished" not in out.rule_names  # both runs pushed now
        keys = enroll(tmp_path / "keys", host)
        ok = status_as_ci(server, keys, "s3cret")
        assert ok.code == 0, ok.stdout + ok.stderr
        wrong = status_as_ci(server, keys, "wrong")
        assert_one_line_error(wrong, 3, "401")
        missing = cli("fleet", "status", server.url(), "--host-keys", keys, "--username", "ci")
        assert_one_line_error(missing, 2, "CHAINGUARD_REGISTRY_PASSWORD")
        # the docker config's credentials for the registry, as docker login writes them
        docker = tmp_path / "docker"
        docker.mkdir()
        auth = base64.b64encode(b"ci:s3cret").decode()
        (docker / "config.json").write_text(json.dumps({"auths": {server.address: {"auth": auth}}}))
        out = cli(
            "fleet", "status", server.url(), "--host-keys", keys, env={"DOCKER_CONFIG": str(docker)}
        )
        assert out.code == 0, out.stdout + out.stderr
        anonymous_status = cli("fleet", "status", server.url(), "--host-keys", keys)
        assert_one_line_error(anonymous_status, 3, "asks for credentials")
    finally:
        stop_registry(server)


def test_bad_publish_or_host_in_the_config_is_exit_3(tmp_path: Path) -> None:
    host = make_fleet_host(tmp_path, "alpha")
    base = host.config.read_text()
    for table in ('publish = "http://192.0.2.1/fleet"', 'host = "bad_name"'):
        host.config.write_text(base + f"[attest]\n{table}\n")
        out = cli("attest", "--config", host.config, "--state", host.state)
        assert_one_line_error(out, 3, "attest.")


def test_a_registry_that_hands_out_bearer_tokens(tmp_path: Path) -> None:
    # GHCR, Docker Hub, Harbor: a 401 names a token service (realm), the client exchanges its
    # credentials there for a token scoped to the repository; the registry checks the token.
    from support.registry_server import start_registry, stop_registry
    from support.token_server import TokenServer, token_auth

    tokens = TokenServer({"ci": "s3cret"}, tmp_path / "tokens")
    server = start_registry(tmp_path / "token-registry", auth=token_auth(tokens))
    try:
        host = make_fleet_host(tmp_path, "alpha")
        env = {"CHAINGUARD_REGISTRY_PASSWORD": "s3cret"}
        attest = (server.url(), "--username", "ci", "--format", "json")
        out = host.attest(*attest, env=env)
        assert out.code == 0, out.stderr
        assert "attestation-unpublished" not in out.rule_names
        assert any("push" in scope for scope in tokens.issued), tokens.issued
        keys = enroll(tmp_path / "keys", host)
        status = status_as_ci(server, keys, "s3cret")
        assert status.code == 0, status.stdout + status.stderr
        refused_before = tokens.refused
        wrong = status_as_ci(server, keys, "wrong")
        assert wrong.code == 3 and len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr
        assert tokens.refused > refused_before  # the token service said no, not the registry
        unpublished = host.attest(*attest, env={"CHAINGUARD_REGISTRY_PASSWORD": "wrong"})
        assert "attestation-unpublished" in unpublished.rule_names
    finally:
        stop_registry(server)
        tokens.stop()
