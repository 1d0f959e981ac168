"""chainguard.toml parsing: paths relative to the file, strict keys, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainguard.config import load_config
from chainguard.errors import ConfigError
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
