"""docs/reports.md's JSON example is what chainguard really writes: the same scenario run for
real (a config-trusted key, a pinned deployment, one model file changed in place) gives a
report with the same fields in the same order, the same types, and messages, digests, signers
and remediation in the same form."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.cli import cli
from support.release import make_release, write_model

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORTS_MD = REPO_ROOT / "docs" / "reports.md"

# Values whose form (not their exact text) the example must show as emitted.
FORMED = {
    "time",
    "sbom_digest",
    "signers[]",
    "trust.keys[].fingerprint",
    "findings[].rule",
    "findings[].severity",
    "findings[].message",
    "findings[].expected",
    "findings[].actual",
    "findings[].component",
    "findings[].remediation",
}


def documented_example() -> dict[str, Any]:
    text = REPORTS_MD.read_text("utf-8")
    section = text.split("## `json`", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert block, "no JSON example under ## `json`"
    doc: dict[str, Any] = json.loads(block[1])
    return doc


def form(value: str) -> str:
    """A string with its particular digests, numbers and names abstracted away."""
    value = re.sub(r"[0-9a-f]{64}", "<sha256>", value)
    value = re.sub(r"\b[0-9a-f]{16}\b", "<id>", value)
    value = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", value)
    value = re.sub(r"model:[\w.-]+", "model:<name>", value)
    return re.sub(r"\d+", "<n>", value)


def compare(documented: Any, real: Any, where: str, problems: list[str]) -> None:
    if isinstance(documented, dict):
        if not isinstance(real, dict) or list(documented) != list(real):
            problems.append(f"{where or '.'}: keys {list(documented)} != {list(real)}")
            return
        for key in documented:
            compare(documented[key], real[key], f"{where}.{key}" if where else key, problems)
    elif isinstance(documented, list):
        if not isinstance(real, list) or bool(documented) != bool(real):
            problems.append(f"{where}: {documented!r} vs {real!r}")
        elif documented:
            compare(documented[0], real[0], f"{where}[]", problems)
    elif type(documented) is not type(real) and not (
        isinstance(documented, (int, float)) and isinstance(real, (int, float))
    ):
        problems.append(f"{where}: {type(documented).__name__} vs {type(real).__name__}")
    elif where in FORMED and form(documented) != form(real):
        problems.append(f"{where}: documented {documented!r}, written {real!r}")


@pytest.fixture
def real_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    model = write_model(tmp_path / "models" / "llama")
    release = make_release(
        tmp_path, models=[model], name="llama-prod", version="1.4.0", serial=14,
        sbom_name="llama.cdx.json",
    )  # fmt: skip
    release.sig.rename(f"{release.sbom}.sigstore.json")  # the name `sign` writes
    (tmp_path / "chainguard.toml").write_text(
        'deployment = "llama-prod"\nsbom = "llama.cdx.json"\nignore = [".git"]\n'
        '[trust]\nkeys = ["release.pub"]\n'
    )
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # changed in place, same size
    weights.write_bytes(bytes(data))
    monkeypatch.chdir(tmp_path)
    outcome = cli("verify", "model", "models/llama", "-f", "json")
    assert outcome.code == 1, outcome
    return outcome.report


def test_the_documented_json_example_is_what_is_written(real_report: dict[str, Any]) -> None:
    problems: list[str] = []
    compare(documented_example(), real_report, "", problems)
    assert not problems, "\n".join(problems)


def test_the_comparison_notices_a_wrong_example(real_report: dict[str, Any]) -> None:
    wrong = documented_example()
    wrong["findings"][0]["expected"] = "3f2a9c1b"  # a shortened digest, as once documented
    wrong["stats"] = {"files": 1, "seconds": 0.5, "bytes": 2}
    problems: list[str] = []
    compare(wrong, real_report, "", problems)
    assert len(problems) == 2, problems
