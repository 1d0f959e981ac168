"""chainguard.toml's [patches] (what `sbom build --config` declares) and require_patches (what
every verify requires): each value checked, one line naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainguard.config import load_config
from chainguard.errors import ConfigError

HEX = "ab" * 32


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "chainguard.toml"
    p.write_text(text)
    return p


def test_patches_and_required_patches(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            'require_patches = ["CVE-2025-32434", "MODEL-1", "CVE-2025-32434"]\n'
            f'[patches]\n"CVE-2025-32434" = "torch>=2.6.0"\n"MODEL-1" = "model:w@sha256:{HEX}"\n',
        )
    )
    assert cfg.patches == (("CVE-2025-32434", "torch>=2.6.0"), ("MODEL-1", f"model:w@sha256:{HEX}"))
    assert cfg.require_patches == ("CVE-2025-32434", "MODEL-1")


def test_absent_is_empty(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, 'sbom = "s.json"\n'))
    assert cfg.patches == () and cfg.require_patches == ()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('patches = "torch>=2.6.0"\n', "patches must be a table"),
        ('[patches]\n"CVE-2025-32434" = 2\n', "patches.CVE-2025-32434 must be a requirement"),
        ('[patches]\n"CVE-2025-32434" = "torch"\n', "patches.CVE-2025-32434: patch requirement"),
        ('[patches]\n"cve-1" = "torch>=2"\n', "patches.cve-1: patch id"),
        ('[patches]\n"M-1" = "model:w@sha256:AB"\n', "64 lowercase hex"),
        ('require_patches = "CVE-2025-32434"\n', "require_patches must be a list of strings"),
        ('require_patches = ["CVE 1"]\n', "require_patches: patch id"),
        ('require_patch = ["CVE-2025-32434"]\n', "unknown key(s) require_patch"),
    ],
)
def test_bad_values_are_one_line_config_errors(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    assert says in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith(str(tmp_path / "chainguard.toml"))
