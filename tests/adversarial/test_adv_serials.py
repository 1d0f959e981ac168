"""Attack: numbers too large for the rollback state.

`sbom build --serial 2**63` used to build and sign, and then every verify ended in an internal
error: the rollback state is SQLite, whose INTEGER is 64-bit signed. Another tool (or an old
chainguard) can still sign such an SBOM. Building refuses it (exit 2), and so does reading
one (exit 3, one line), before anything reaches the state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import cli
from support.release import Release
from support.surgery import reseal, resign

TOO_BIG = str(2**63)


def assert_one_line(stderr: str, *needles: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _set(node: dict[str, Any], name: str, value: str) -> None:
    for prop in node["properties"]:
        if prop["name"] == name:
            prop["value"] = value


def test_build_refuses_a_serial_sqlite_cannot_hold(release: Release) -> None:
    out = release.root / "big.cdx.json"
    code, _, stderr = cli(
        "sbom", "build", "--name", "svc", "--version", "2", "--model", release.model,
        "--serial", TOO_BIG, "-o", out,
    )  # fmt: skip
    assert code == 2, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert "--serial" in stderr and not out.exists()
    code, _, stderr = cli(
        "sbom", "build", "--name", "svc", "--version", "2", "--model", release.model,
        "--serial", str(2**63 - 1), "-o", out,
    )  # fmt: skip
    assert code == 0, stderr


@pytest.mark.parametrize("where", ["serial", "size", "total-size"])
def test_a_signed_sbom_with_a_64_bit_overflow_cannot_be_verified(
    release: Release, tmp_path: Path, where: str
) -> None:
    doc = json.loads(release.sbom.read_text())
    (model,) = doc["components"]
    if where == "serial":
        _set(doc["metadata"]["component"], "chainguard:serial", TOO_BIG)
    elif where == "size":
        _set(model["components"][0], "chainguard:size", TOO_BIG)
        reseal(model)
    else:
        _set(model, "chainguard:total-size", TOO_BIG)
    resign(release, doc, raw=True)  # as another tool would: chainguard's reader refuses it

    code, stdout, stderr = cli(
        "verify", "model", release.model, "--key", release.pub, "--sbom", release.sbom,
        "--state", tmp_path / "state",
    )  # fmt: skip
    assert code == 3, (stdout, stderr)
    assert_one_line(stderr, "9223372036854775807")

    code, _, stderr = cli("sign", release.sbom, "--key", release.key)  # re-signing refuses too
    assert code == 3
    assert_one_line(stderr, "9223372036854775807")
