"""[formats] in chainguard.toml (parsed, checked, a trust setting) and format-changed in the pure
comparison."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chainguard.compare import compare_tree
from chainguard.config import TrustFlags, effective_trust, load_config
from chainguard.errors import ConfigError
from chainguard.formats.policy import FormatPolicy, PathRule
from chainguard.models import ExpectedComponent, FileDigest, ObservedTree, tree_digest


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chainguard.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_formats_table(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            'sbom = "s.json"\n[formats]\nallow = ["safetensors", "json"]\ndeny = ["pickle"]\n'
            '[[formats.rules]]\nglob = "*.bin"\ndeny = ["pickle", "zip"]\n'
            '[[formats.rules]]\nglob = "legacy/**"\nallow = ["pickle"]\n',
        )
    )
    assert cfg.formats == FormatPolicy(
        allow=("safetensors", "json"),
        deny=("pickle",),
        paths=(PathRule("*.bin", (), ("pickle", "zip")), PathRule("legacy/**", ("pickle",), ())),
    )


def test_no_formats_table_is_the_default_policy(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, 'sbom = "s.json"\n')).formats is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('formats = ["pickle"]', "formats must be a table"),
        ('[formats]\nallow = "pickle"', "formats.allow must be a list of strings"),
        ('[formats]\ndeny = ["pickles"]', "unknown format(s) pickles"),
        ('[formats]\nblock = ["pickle"]', "unknown key(s) block"),
        ("[formats]\nrules = 3", "formats.rules must be an array of tables"),
        ('[[formats.rules]]\ndeny = ["pickle"]', "formats.rules[0]: glob missing"),
        ('[[formats.rules]]\nglob = ""', "formats.rules[0].glob must be a non-empty string"),
        ('[[formats.rules]]\nglob = "*"\nmode = 1', "unknown key(s) mode"),
        ('[[formats.rules]]\nglob = "*"\nallow = ["exe"]', "unknown format(s) exe"),
    ],
)
def test_malformed_formats_table(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text + "\n"))
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_formats_are_a_trust_setting(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[trust]\nkeys = ["k.pub"]\n[formats]\nallow = ["pickle"]\n'))
    assert effective_trust(cfg, TrustFlags()).formats == cfg.formats
    # A key on the command line: none of the config's trust applies, [formats] included.
    anchored = TrustFlags(keys=(tmp_path / "other.pub",))
    assert effective_trust(cfg, anchored).formats is None


def fd(path: str, content: bytes, fmt: str | None) -> FileDigest:
    return FileDigest(path, len(content), hashlib.sha256(content).hexdigest(), format=fmt)


def component(*files: FileDigest) -> ExpectedComponent:
    return ExpectedComponent("model", "m", "model:m", tree_digest(list(files)), tuple(files))


def test_a_changed_format_is_a_finding_besides_the_modification() -> None:
    signed = component(fd("w.safetensors", b"tensors", "safetensors"), fd("c", b"{}", "json"))
    now = ObservedTree("/m", (fd("w.safetensors", b"pickled", "pickle"), fd("c", b"{}", "json")))
    found = compare_tree(signed, now)
    assert [(f.rule, f.path) for f in found] == [
        ("artifact-modified", "w.safetensors"),
        ("format-changed", "w.safetensors"),
    ]
    changed = found[1]
    assert (changed.expected, changed.actual, changed.component) == (
        "safetensors",
        "pickle",
        "model:m",
    )


@pytest.mark.parametrize(("signed", "now"), [(None, "pickle"), ("json", None), ("json", "json")])
def test_an_unknown_or_same_format_is_not_compared(signed: str | None, now: str | None) -> None:
    found = compare_tree(
        component(fd("f", b"a", signed)), ObservedTree("/m", (fd("f", b"b", now),))
    )
    assert [f.rule for f in found] == ["artifact-modified"]
