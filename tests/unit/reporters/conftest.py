"""Sample reports shared by the reporter tests: one clean, one failing in many ways."""

from __future__ import annotations

import pytest

from chainguard.findings import Finding, Report, Severity, Stats

DIGEST_A = "a" * 64
DIGEST_B = "0123456789abcdef" * 4
# A path a model directory may legitimately hold, and that breaks naive table formatting.
ODD_PATH = "tokenizer|extra/модель 模型 ü.json"


@pytest.fixture
def clean_report() -> Report:
    return Report(
        command="verify model",
        target="models/llama",
        findings=(),
        stats=Stats(files=3, bytes=3 * 1024**3, seconds=2.0),
        sbom="llama.cdx.json",
        signature="llama.sigstore.json",
        signers=("release key (ecdsa-p256 1f2e3d4c)",),
        deployment="llama-prod@1.4.0",
        components=("model:llama",),
    )


@pytest.fixture
def failing_report() -> Report:
    return Report(
        command="verify model",
        target="models/llama",
        findings=(
            Finding(
                "dependency-version",
                "requirements.txt",
                "numpy is not the signed version",
                expected="1.26.4",
                actual="2.0.0",
                severity=Severity.WARNING,
            ),
            Finding(
                "artifact-modified",
                "model-00001-of-00002.safetensors",
                "content differs from the signed digest",
                expected=DIGEST_A,
                actual=DIGEST_B,
                component="model:llama",
            ),
            Finding(
                "artifact-unexpected",
                ODD_PATH,
                "file is not in the SBOM",
                actual=DIGEST_B,
                component="model:llama",
            ),
            Finding("signature-untrusted", "", "signed by key 9f3a, which is not trusted"),
            Finding(
                "artifact-modified",
                "model-00002-of-00002.safetensors",
                "content differs from the signed digest",
                expected=DIGEST_B,
                actual=DIGEST_A,
                component="model:llama",
            ),
            Finding(
                "dependency-unhashed",
                "requirements.txt",
                "torch is not pinned by hash",
                severity=Severity.NOTE,
            ),
        ),
        stats=Stats(files=2, bytes=5 * 1024**2, seconds=0.5),
        sbom="llama.cdx.json",
        signature="llama.sigstore.json",
        signers=(),
        deployment="llama-prod@1.4.0",
        components=("model:llama",),
    )


@pytest.fixture(params=["clean", "failing"])
def any_report(
    request: pytest.FixtureRequest, clean_report: Report, failing_report: Report
) -> Report:
    return clean_report if request.param == "clean" else failing_report
