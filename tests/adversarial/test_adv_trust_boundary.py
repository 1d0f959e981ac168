"""Trust comes only from where the operator put it (config files, the command line, reports).

Every scenario is an attack that passed before: a `chainguard.toml` placed where chainguard runs
(or shipped inside the model) widened or weakened trust behind the operator's back, a release
for another deployment was accepted, or a report said less than the truth.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.cli import cli
from support.release import MODEL_FILES, Release, make_release


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)
    return path


@pytest.fixture
def attacker(tmp_path: Path) -> Release:
    """The same model, tampered, built and signed with the attacker's own key."""
    files = {**MODEL_FILES, "config.json": b'{"backdoor": true}\n'}
    return make_release(tmp_path / "attacker", models={"weights": files})


def tampered(release: Release) -> None:
    (release.model / "config.json").write_bytes(b'{"backdoor": true}\n')


# --- 1. configuration never widens or weakens trust pinned on the command line ------------------


def test_config_keys_are_not_trusted_when_identities_are_pinned(
    release: Release, attacker: Release, tmp_path: Path
) -> None:
    write_config(tmp_path / "chainguard.toml", f'[trust]\nkeys = ["{attacker.pub}"]\n')
    out = cli(
        "verify", "model", attacker.model, "--sbom", attacker.sbom, "--format", "json",
        "--identity", "release@example.com", "--issuer", "https://accounts.example.com",
    )  # fmt: skip
    assert out.code == 1, out.stderr
    assert "signature-untrusted" in out.rule_names
    trust = out.report["trust"]
    assert trust["source"] == "command line" and trust["keys"] == []
    assert trust["config"] == str(tmp_path / "chainguard.toml")


def test_config_identities_are_not_trusted_when_a_key_is_pinned(
    release: Release, tmp_path: Path
) -> None:
    write_config(
        tmp_path / "chainguard.toml",
        '[trust]\nidentities = [{ identity = "evil@example.com", '
        'issuer = "https://accounts.example.com" }]\n',
    )
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--key", release.pub,
              "--format", "json")  # fmt: skip
    assert out.code == 0, out.stderr
    assert out.report["trust"]["identities"] == []
    assert [k["path"] for k in out.report["trust"]["keys"]] == [str(release.pub)]


def test_config_ignore_does_not_hide_a_tampered_file_when_a_key_is_pinned(
    release: Release, tmp_path: Path
) -> None:
    write_config(tmp_path / "chainguard.toml", 'ignore = ["config.json"]\n')
    tampered(release)
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--key", release.pub,
              "--format", "json")  # fmt: skip
    assert out.code == 1
    assert "artifact-modified" in out.rule_names
    assert out.report["trust"]["ignore"] == []


def test_command_line_ignore_still_applies_with_a_pinned_key(release: Release) -> None:
    (release.model / "notes.txt").write_text("local notes\n")
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--key", release.pub,
              "--ignore", "notes.txt", "--format", "json")  # fmt: skip
    assert out.code == 0, out.report["findings"]
    assert out.report["trust"]["ignore"] == ["notes.txt"]


def _release(root: Path, *, name: str, serial: int, files: dict[str, bytes], key: Release,
             expires: str | None = None) -> tuple[Path, Path, Path]:  # fmt: skip
    release = make_release(
        root,
        models={"weights": files},
        name=name,
        version=str(serial),
        serial=serial,
        expires=expires,
        signer=key,
    )
    return release.model, release.sbom, release.sig


def test_config_cannot_move_state_and_allow_an_old_expired_release(
    release: Release, tmp_path: Path
) -> None:
    """An old, expired, lower-serial release passed once a config moved `state` and set
    `allow_expired`; with trust pinned on the command line the config is not consulted."""
    new_model, new_sbom, _ = _release(
        tmp_path / "v5", name="svc", serial=5, files=MODEL_FILES, key=release
    )
    ok = cli("verify", "model", new_model, "--sbom", new_sbom, "--key", release.pub,
             "--deployment", "svc")  # fmt: skip
    assert ok.code == 0, ok.stdout + ok.stderr
    old_files = {**MODEL_FILES, "config.json": b'{"vulnerable": true}\n'}
    old_model, old_sbom, _ = _release(
        tmp_path / "v1", name="svc", serial=1, files=old_files, key=release,
        expires="2020-01-01T00:00:00Z",
    )  # fmt: skip
    write_config(
        tmp_path / "chainguard.toml",
        f'state = "{tmp_path / "fresh-state"}"\n[trust]\nallow_expired = true\n',
    )
    out = cli("verify", "model", old_model, "--sbom", old_sbom, "--key", release.pub,
              "--deployment", "svc", "--format", "json")  # fmt: skip
    assert out.code == 1
    assert {"sbom-expired"} <= out.rule_names
    assert out.severity("sbom-expired") == "error"
    assert out.report["trust"]["allow_expired"] is False
    assert out.report["trust"]["state"] is None


def test_rollback_is_refused_even_with_allow_expired(release: Release, tmp_path: Path) -> None:
    new_model, new_sbom, _ = _release(
        tmp_path / "v5", name="svc", serial=5, files=MODEL_FILES, key=release
    )
    assert cli("verify", "model", new_model, "--sbom", new_sbom, "--key", release.pub).code == 0
    old_model, old_sbom, _ = _release(
        tmp_path / "v1", name="svc", serial=1, files=MODEL_FILES, key=release,
        expires="2020-01-01T00:00:00Z",
    )  # fmt: skip
    out = cli("verify", "model", old_model, "--sbom", old_sbom, "--key", release.pub,
              "--allow-expired", "--format", "json")  # fmt: skip
    assert out.code == 1
    assert "sbom-rollback" in out.rule_names


def test_config_trust_applies_when_the_command_line_names_no_anchor(
    release: Release, tmp_path: Path
) -> None:
    write_config(
        tmp_path / "chainguard.toml",
        f'deployment = "svc"\nignore = ["notes.txt"]\n[trust]\nkeys = ["{release.pub}"]\n',
    )
    (release.model / "notes.txt").write_text("x\n")
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--format", "json")
    assert out.code == 0, out.report["findings"]
    trust = out.report["trust"]
    assert trust["source"] == "config" and trust["deployment"] == "svc"
    assert trust["ignore"] == ["notes.txt"] and len(trust["keys"]) == 1
    assert "deployment-unpinned" not in out.rule_names


@pytest.mark.parametrize(
    "anchor",
    [
        ["--key", "{mine}"],
        ["--identity", "a@example.com", "--issuer", "https://accounts.example.com"],
        ["--trusted-root", "{root}"],
        ["--staging"],
    ],
    ids=["key", "identity", "trusted-root", "staging"],
)
@pytest.mark.parametrize(
    "setting",
    [
        ("deployment", 'deployment = "svc"\n', lambda t: t["deployment"] is None),
        ("ignore", 'ignore = ["x"]\n', lambda t: t["ignore"] == []),
        ("state", 'state = "elsewhere"\n', lambda t: t["state"] is None),
        ("allow_expired", "[trust]\nallow_expired = true\n", lambda t: not t["allow_expired"]),
        ("threshold", "[trust]\nthreshold = 3\n", lambda t: t["threshold"] == 1),
        ("keys", '[trust]\nkeys = ["{pub}"]\n', lambda t: len(t["keys"]) <= 1),
    ],
    ids=lambda s: s[0] if isinstance(s, tuple) else None,
)
def test_every_config_trust_setting_is_unused_under_every_command_line_anchor(
    release: Release, tmp_path: Path, anchor: list[str], setting: tuple[str, str, Any]
) -> None:
    """Each anchor flag against each config trust setting: the report shows the config was not
    consulted for trust (whatever the verdict the anchor itself leads to)."""
    root = tmp_path / "root.json"
    root.write_text("{}")
    other = make_release(tmp_path / "other", models={"weights": MODEL_FILES})
    subst = {"pub": str(other.pub), "mine": str(release.pub), "root": str(root)}
    _, text, unused = setting
    write_config(tmp_path / "chainguard.toml", text.format(**subst))
    args = [a.format(**subst) for a in anchor]
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--format", "json",
              "--output", tmp_path / "r.json", *args)  # fmt: skip
    doc = json.loads((tmp_path / "r.json").read_text())
    if doc["trust"] is None:  # a root but no identity, a bogus root: could not verify, said so
        assert out.code in (2, 3) and doc["ok"] is False and doc["error"]
        assert "config" not in doc["error"] or "not used" in doc["error"]
        return
    assert doc["trust"]["source"] == "command line"
    assert unused(doc["trust"]), doc["trust"]
    assert not any(k["path"] == str(other.pub) for k in doc["trust"]["keys"])


def test_a_model_cannot_configure_its_own_verification(
    attacker: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A downloaded model ships chainguard.toml trusting its publisher's key; the operator runs
    `chainguard verify model .` inside it."""
    write_config(
        attacker.model / "chainguard.toml",
        f'sbom = "{attacker.sbom}"\n[trust]\nkeys = ["{attacker.pub}"]\n',
    )
    monkeypatch.chdir(attacker.model)
    out = cli("verify", "model", ".", "--sbom", attacker.sbom, "--format", "json")
    assert out.code == 2  # no trusted keys at all: the model's own config was not read
    assert "no trusted keys" in out.stderr


def test_a_deployment_config_inside_its_own_model_is_refused(
    attacker: Release, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        attacker.model / "chainguard.toml",
        f'sbom = "{attacker.sbom}"\n[trust]\nkeys = ["{attacker.pub}"]\n[models]\nweights = "."\n',
    )
    monkeypatch.chdir(attacker.model)
    out = cli("verify", "deployment")
    assert out.code == 3
    assert "inside the tree it verifies" in out.stderr


@pytest.mark.parametrize("where", ["file", "directory"])
@pytest.mark.parametrize("mode", [0o002, 0o020])
def test_a_config_others_can_write_is_refused(
    release: Release, tmp_path: Path, where: str, mode: int
) -> None:
    if mode == 0o020 and os.geteuid() != 0:
        pytest.skip("giving a file to another group needs root")
    directory = tmp_path / "etc"
    config = write_config(directory / "chainguard.toml", f'[trust]\nkeys = ["{release.pub}"]\n')
    target = config if where == "file" else directory
    base = 0o644 if where == "file" else 0o755
    target.chmod(base | mode)
    if mode == 0o020:
        os.chown(target, -1, 65534)  # a group that is neither root nor the owner's own
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--config", config)
    assert out.code == 3, out.stdout
    assert str(target) in out.stderr and "chmod go-w" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_no_config_skips_discovery(release: Release, tmp_path: Path) -> None:
    write_config(tmp_path / "chainguard.toml", f'[trust]\nkeys = ["{release.pub}"]\n')
    assert cli("verify", "model", release.model, "--sbom", release.sbom).code == 0
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--no-config")
    assert out.code == 2 and "no trusted keys" in out.stderr


def test_chainguard_config_names_the_config(
    release: Release, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = write_config(tmp_path / "etc" / "cg.toml", f'[trust]\nkeys = ["{release.pub}"]\n')
    write_config(tmp_path / "chainguard.toml", '[trust]\nkeys = ["nope.pub"]\n')
    monkeypatch.setenv("CHAINGUARD_CONFIG", str(named))
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--format", "json")
    assert out.code == 0, out.stderr
    assert out.report["config"] == str(named)
    # --config wins over the environment
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--config",
              tmp_path / "chainguard.toml")  # fmt: skip
    assert out.code == 3 and "nope.pub" in out.stderr
    assert cli("verify", "model", release.model, "--no-config", "--config", named).code == 2


# --- 2. a release for another deployment is not this deployment --------------------------------


def test_a_release_of_another_deployment_is_refused_when_pinned(
    release: Release, tmp_path: Path
) -> None:
    current, current_sbom, _ = _release(
        tmp_path / "sentiment", name="sentiment-api", serial=5, files=MODEL_FILES,
        key=release,
    )  # fmt: skip
    pinned = ("--key", release.pub, "--deployment", "sentiment-api")
    assert cli("verify", "model", current, "--sbom", current_sbom, *pinned).code == 0
    old = {**MODEL_FILES, "model.safetensors": MODEL_FILES["model.safetensors"][:-4] + b"\0" * 4}
    other, other_sbom, _ = _release(
        tmp_path / "fraud", name="fraud-api-staging", serial=1, files=old, key=release
    )
    # The operator deploys the other release's weights to the sentiment host.
    out = cli("verify", "model", other, "--sbom", other_sbom, *pinned, "--format", "json")
    assert out.code == 1
    assert "subject-mismatch" in out.rule_names
    assert out.report["trust"]["deployment"] == "sentiment-api"


def test_an_unpinned_deployment_is_a_warning_in_every_report(release: Release) -> None:
    out = cli("verify", "model", release.model, "--sbom", release.sbom, "--key", release.pub,
              "--format", "json")  # fmt: skip
    assert out.code == 0
    assert out.severity("deployment-unpinned") == "warning"
    for fmt in ("text", "markdown", "sarif"):
        shown = cli("verify", "model", release.model, "--sbom", release.sbom, "--key",
                    release.pub, "--format", fmt)  # fmt: skip
        assert "deployment-unpinned" in shown.stdout, fmt


def test_a_component_chosen_only_as_the_only_one_is_said(release: Release, tmp_path: Path) -> None:
    moved = tmp_path / "srv-model"
    release.model.rename(moved)
    out = cli("verify", "model", moved, "--sbom", release.sbom, "--key", release.pub,
              "--deployment", "svc", "--format", "json")  # fmt: skip
    assert out.code == 0
    assert out.severity("component-inferred") == "note"
    named = cli("verify", "model", moved, "--sbom", release.sbom, "--key", release.pub,
                "--deployment", "svc", "--component", "weights", "--format", "json")  # fmt: skip
    assert "component-inferred" not in named.rule_names


def test_min_serial_refuses_an_old_release_without_state(release: Release, tmp_path: Path) -> None:
    model, sbom, _ = _release(tmp_path / "v3", name="svc", serial=3, files=MODEL_FILES,
                              key=release)  # fmt: skip
    base = ("verify", "model", model, "--sbom", sbom, "--key", release.pub, "--format", "json")
    out = cli(*base, "--min-serial", "4")
    assert out.code == 1 and "sbom-rollback" in out.rule_names
    assert out.report["trust"]["min_serial"] == 4
    assert cli(*base, "--min-serial", "3").code == 0


# --- 4. reports tell the truth -----------------------------------------------------------------


def test_allow_expired_is_reported_as_a_warning(release: Release, tmp_path: Path) -> None:
    model, sbom, _ = _release(tmp_path / "old", name="svc", serial=0, files=MODEL_FILES,
                              key=release, expires="2020-01-01T00:00:00Z")  # fmt: skip
    base = ("verify", "model", model, "--sbom", sbom, "--key", release.pub, "--format", "json")
    refused = cli(*base)
    assert refused.code == 1 and refused.severity("sbom-expired") == "error"
    accepted = cli(*base, "--allow-expired")
    assert accepted.code == 0
    assert accepted.severity("sbom-expired") == "warning"
    assert accepted.report["trust"]["allow_expired"] is True


@pytest.mark.parametrize("fmt", ["json", "sarif", "text", "markdown"])
def test_a_run_that_cannot_verify_never_leaves_a_stale_pass(
    release: Release, tmp_path: Path, fmt: str
) -> None:
    report = tmp_path / f"last-report.{fmt}"
    args = ("verify", "model", release.model, "--key", release.pub, "--format", fmt,
            "--output", report)  # fmt: skip
    assert cli(*args, "--sbom", release.sbom).code == 0
    release.sbom.write_text("{not json")
    out = cli(*args, "--sbom", release.sbom)
    assert out.code == 3
    text = report.read_text()
    if fmt == "json":
        doc = json.loads(text)
        assert doc["ok"] is False and "deploy.cdx.json" in doc["error"]
    elif fmt == "sarif":
        doc = json.loads(text)
        invocation = doc["runs"][0]["invocations"][0]
        assert invocation["executionSuccessful"] is False
        assert doc["runs"][0]["properties"]["ok"] is False
    else:
        assert "could not verify" in text.lower()
        assert "✔" not in text and "✅" not in text


def test_every_format_says_where_trust_came_from(release: Release, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "chainguard.toml",
        f'deployment = "svc"\nignore = ["*.bak"]\n[trust]\nkeys = ["{release.pub}"]\n',
    )
    for fmt in ("text", "markdown"):
        out = cli("verify", "model", release.model, "--sbom", release.sbom, "--format", fmt)
        assert out.code == 0
        for needle in ("config", "release.pub", "threshold 1", "svc"):
            assert needle in out.stdout, (fmt, needle)
        assert str(config) in out.stdout.replace("\\", "")
    sarif = json.loads(
        cli("verify", "model", release.model, "--sbom", release.sbom, "--format", "sarif").stdout
    )
    props = sarif["runs"][0]["properties"]
    assert props["trust"]["source"] == "config" and props["config"] == str(config)
    doc = cli("verify", "model", release.model, "--sbom", release.sbom, "--format", "json").report
    assert doc["sbom_digest"].startswith("sha256:") and doc["serial"] == 0
    assert doc["time"] and doc["host"]
