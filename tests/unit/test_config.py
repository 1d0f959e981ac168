"""chainguard.toml parsing: paths relative to the file, strict keys, one-line errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from chainguard.config import Config, TrustFlags, effective_trust, load_config
from chainguard.errors import ConfigError, UsageError
from chainguard.models import IdentityRule

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "chainguard.toml"
    p.write_text(text)
    return p


def test_full_config(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            'deployment = "svc"\nsbom = "r/s.json"\nsignatures = ["a.sig", "/abs/b.sig"]\n'
            'ignore = ["*.log"]\nstate = "st"\n'
            '[trust]\nkeys = ["k.pub"]\nthreshold = 2\n'
            'identities = [{identity = "me@x", issuer = "https://i", repository = "o/r"}]\n'
            '[models]\nm = "weights"\n[datasets]\nd = "/data"\n',
        )
    )
    assert cfg.sbom == tmp_path / "r/s.json"
    assert cfg.signatures == (tmp_path / "a.sig", Path("/abs/b.sig"))
    assert cfg.keys == (tmp_path / "k.pub",)
    assert cfg.threshold == 2 and cfg.deployment == "svc" and cfg.state == tmp_path / "st"
    assert cfg.identities == (IdentityRule("me@x", "https://i", "o/r", None),)
    assert cfg.models == (("m", tmp_path / "weights"),) and cfg.datasets == (("d", Path("/data")),)


def test_dependencies_table(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, '[dependencies]\nlocks = ["uv.lock"]\nenvironments = "/srv/.venv"\n')
    )
    assert cfg.locks == (tmp_path / "uv.lock",)
    assert cfg.environments == (Path("/srv/.venv"),)


def test_absent_default_config_is_empty(tmp_path: Path) -> None:
    assert load_config(None, cwd=tmp_path).path is None


def test_config_found_in_cwd(tmp_path: Path) -> None:
    write(tmp_path, 'sbom = "x.json"\n')
    assert load_config(None, cwd=tmp_path).sbom == tmp_path / "x.json"


def test_shipped_examples_parse() -> None:
    assert load_config(REPO / "manifests" / "chainguard.example.toml").threshold == 2
    assert load_config(REPO / "chainguard.toml").keys


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sbom = ", "invalid TOML"),
        ("signture = 'x'", "unknown key(s) signture"),
        ("sbom = 3", "sbom must be a non-empty string path"),
        ("ignore = 'x'", "ignore must be a list of strings"),
        ("[trust]\nkeys = [1]", "trust.keys must be a non-empty string path"),
        ("[trust]\nthreshold = 0", "trust.threshold must be a whole number"),
        ("[trust]\nthreshold = true", "trust.threshold must be a whole number"),
        ("[trust]\nkeyz = []", "unknown key(s) keyz"),
        ("[trust]\nidentities = [{identity = 'x'}]", "issuer must be a non-empty string"),
        ("[trust]\nidentities = [{identity = 'x', issuer = 'y', extra = 1}]", "unknown key"),
        (
            "[trust]\nidentities = [{identity = 'x', issuer = 'y', repository = ''}]",
            "repository must be a non-empty string",
        ),
        ("[trust]\nidentities = [{identity = 'x', issuer = 'y', ref = 3}]", "ref must be a non"),
        ("trust = 3", "trust must be a table"),
        ("models = ['a']", "models must be a table"),
        ("signature = 'a'\nsignatures = ['b']", "either signature or signatures"),
        ("deployment = ''", "deployment must be a non-empty string"),
        ("[trust]\nstaging = 'yes'", "must be true or false"),
        ("dependencies = 1", "dependencies must be a table"),
        ("[dependencies]\nlock = ['x']", "unknown key(s) lock"),
        ("[dependencies]\nlocks = [2]", "dependencies.locks must be a non-empty string path"),
    ],
)
def test_malformed_configs_give_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    assert fragment in str(e.value) and "\n" not in str(e.value)
    assert str(tmp_path) in str(e.value)


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_non_utf8_config(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_bytes(b"sbom = '\xff'")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(p)


# --- trust precedence (config.effective_trust): each anchor against each config trust setting


_CONFIG = Config(
    path=Path("/etc/chainguard/chainguard.toml"),
    keys=(Path("/etc/chainguard/config.pub"),),
    identities=(IdentityRule("config@example.com", "https://issuer.example"),),
    ignore=("config-ignore",),
    threshold=2,
    trusted_root=Path("/etc/chainguard/root.json"),
    staging=True,
    allow_expired=True,
    deployment="config-deployment",
    state=Path("/config/state"),
)
_ANCHORS: dict[str, TrustFlags] = {
    "key": TrustFlags(keys=(Path("cli.pub"),)),
    "identity": TrustFlags(identities=(IdentityRule("cli@example.com", "https://cli.example"),)),
    "certificate-chain": TrustFlags(certificate_chains=(Path("ca.pem"),)),
    "trusted-root": TrustFlags(trusted_root=Path("cli-root.json")),
    "staging": TrustFlags(staging=True),
}
_NON_ANCHORS = {
    "none": {},
    "ignore": {"ignore": ("cli-ignore",)},
    "state": {"state": Path("/cli/state")},
    "allow-expired": {"allow_expired": True},
    "deployment": {"deployment": "cli-deployment"},
    "min-serial": {"min_serial": 7},
}


@pytest.mark.parametrize(
    ("anchor", "extra"), list(itertools.product(_ANCHORS, _NON_ANCHORS)), ids="-".join
)
def test_a_command_line_anchor_leaves_every_config_trust_setting_unused(
    anchor: str, extra: str
) -> None:
    from dataclasses import replace

    flags = replace(_ANCHORS[anchor], **_NON_ANCHORS[extra])  # type: ignore[arg-type]
    eff = effective_trust(_CONFIG, flags)
    assert eff.source == "command line"
    assert eff.keys == flags.keys and eff.identities == flags.identities
    assert eff.certificate_chains == flags.certificate_chains
    assert eff.trusted_root == flags.trusted_root and eff.staging == flags.staging
    assert eff.threshold == 1
    assert eff.ignore == flags.ignore and eff.state == flags.state
    assert eff.allow_expired == flags.allow_expired
    assert eff.deployment == flags.deployment and eff.min_serial == flags.min_serial
    assert eff.config == _CONFIG.path  # still named in the report


@pytest.mark.parametrize("extra", list(_NON_ANCHORS))
def test_without_an_anchor_the_config_trust_applies_and_flags_combine(extra: str) -> None:
    flags = TrustFlags(**_NON_ANCHORS[extra])  # type: ignore[arg-type]
    eff = effective_trust(_CONFIG, flags)
    assert eff.source == "config"
    assert (eff.keys, eff.identities, eff.threshold) == (
        _CONFIG.keys,
        _CONFIG.identities,
        _CONFIG.threshold,
    )
    assert (eff.trusted_root, eff.staging) == (_CONFIG.trusted_root, _CONFIG.staging)
    assert eff.ignore == ("config-ignore", *flags.ignore)
    assert eff.state == (flags.state or _CONFIG.state)
    assert eff.deployment == (flags.deployment or _CONFIG.deployment)
    assert eff.allow_expired is True
    assert eff.min_serial == flags.min_serial


def test_no_config_and_no_anchor_is_source_none() -> None:
    eff = effective_trust(Config(), TrustFlags(deployment="x"))
    assert eff.source == "none" and not eff.keys and eff.deployment == "x"


# --- discovery ----------------------------------------------------------------------------------


def test_discovery_order(tmp_path: Path) -> None:
    here = write(tmp_path, '[trust]\nkeys = ["here.pub"]\n')
    named = tmp_path / "etc" / "named.toml"
    named.parent.mkdir()
    named.write_text('[trust]\nkeys = ["named.pub"]\n')
    env = {"CHAINGUARD_CONFIG": str(named)}
    assert load_config(None, cwd=tmp_path, environ={}).path == here
    assert load_config(None, cwd=tmp_path, environ=env).path == named
    assert load_config(here, cwd=tmp_path, environ=env).path == here  # --config wins
    skipped = load_config(None, cwd=tmp_path, environ=env, no_config=True)
    assert skipped.path is None and skipped.skipped == "--no-config"
    with pytest.raises(UsageError):
        load_config(here, no_config=True, environ={})


def test_never_implicitly_from_inside_a_verified_tree(tmp_path: Path) -> None:
    model = tmp_path / "weights"
    model.mkdir()
    write(model, '[trust]\nkeys = ["evil.pub"]\n')
    cfg = load_config(None, cwd=model, trees=[model], environ={})
    assert cfg.path is None and cfg.skipped and "inside the verified tree" in cfg.skipped
    # the same file named explicitly is the operator's choice
    assert load_config(model / "chainguard.toml", trees=[model], environ={}).path is not None
    # a tree beside the working directory does not hide its config
    assert load_config(None, cwd=tmp_path / "weights", trees=[tmp_path / "other"], environ={}).path


@pytest.mark.parametrize(("target", "mode"), [("file", 0o666), ("file", 0o646), ("dir", 0o777)])
def test_writable_by_others_is_refused(tmp_path: Path, target: str, mode: int) -> None:
    directory = tmp_path / "etc"
    directory.mkdir()
    path = write(directory, 'sbom = "x.json"\n')
    (path if target == "file" else directory).chmod(mode)
    with pytest.raises(ConfigError, match="chmod go-w"):
        load_config(path, environ={})


def test_writable_through_a_link_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    real = write(shared, 'sbom = "x.json"\n')
    shared.chmod(0o777)
    safe = tmp_path / "etc"
    safe.mkdir()
    (safe / "chainguard.toml").symlink_to(real)
    with pytest.raises(ConfigError, match=str(shared)):
        load_config(safe / "chainguard.toml", environ={})
