"""Attack: numbers too large for the rollback state.

`sbom build --serial 2**63` used to build and sign, and then every verify ended in an internal
error: the rollback state is SQLite, whose INTEGER is 64-bit signed. Another tool (or an old
chainguard) can still sign such an SBOM. Building refuses it (exit 2), and so does reading
one (exit 3, one line), before anything reaches the state.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from adv_helpers import Release, reseal_component
from typer.testing import CliRunner

from chainguard.cli import app
from chainguard.models import Subject
from chainguard.trust.bundle import key_bundle_json
from chainguard.trust.dsse import sign
from chainguard.trust.keys import load_private_key, load_public_key
from chainguard.trust.statement import build_statement

TOO_BIG = str(2**63)


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def assert_one_line(stderr: str, *needles: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def sign_as_another_tool(release: Release, doc: dict[str, Any]) -> None:
    """Write ``doc`` as the SBOM and sign it with the release key, without chainguard's reader
    (which would refuse it): the statement and bundle any DSSE signer would make."""
    data = (json.dumps(doc, indent=2) + "\n").encode()
    release.sbom.write_bytes(data)
    subjects = [Subject("deployment:svc", (("sha256", hashlib.sha256(data).hexdigest()),))]
    for c in doc["components"]:
        root = next(h["content"] for h in c["hashes"] if h["alg"] == "SHA-256")
        subjects.append(Subject(c["bom-ref"], (("sha256", root),)))
    statement = build_statement(subjects, "https://cyclonedx.org/bom", doc)
    envelope = sign(statement, "application/vnd.in-toto+json", load_private_key(release.key, None))
    release.sig.write_bytes(key_bundle_json(envelope, load_public_key(release.pub)))


def _set(node: dict[str, Any], name: str, value: str) -> None:
    for prop in node["properties"]:
        if prop["name"] == name:
            prop["value"] = value


def test_build_refuses_a_serial_sqlite_cannot_hold(release: Release) -> None:
    out = release.root / "big.cdx.json"
    code, _, stderr = run(
        "sbom", "build", "--name", "svc", "--version", "2", "--model", release.model,
        "--serial", TOO_BIG, "-o", out,
    )  # fmt: skip
    assert code == 2, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert "--serial" in stderr and not out.exists()
    code, _, stderr = run(
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
        reseal_component(model)
    else:
        _set(model, "chainguard:total-size", TOO_BIG)
    sign_as_another_tool(release, doc)

    code, stdout, stderr = run(
        "verify", "model", release.model, "--key", release.pub, "--sbom", release.sbom,
        "--state", tmp_path / "state",
    )  # fmt: skip
    assert code == 3, (stdout, stderr)
    assert_one_line(stderr, "9223372036854775807")

    code, _, stderr = run("sign", release.sbom, "--key", release.key)  # re-signing refuses too
    assert code == 3
    assert_one_line(stderr, "9223372036854775807")
