"""Format detection, pickle analysis, strict safetensors and GGUF on generated artifacts.

Nothing is unpickled: every pickle entry point is made to fail for the whole module."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.unsafe_artifacts import (
    MALFORMED_SAFETENSORS,
    Expected,
    write_benign,
    write_unsafe,
)

from chainguard.formats.detect import FORMATS, HEAD_BYTES, PICKLE_BEARING, detect_format
from chainguard.formats.gguf import read_gguf, template_risks
from chainguard.formats.policy import FormatPolicy, PathRule, scan_file


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("something tried to unpickle")

    for name in ("load", "loads", "Unpickler", "_Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    yield


@pytest.fixture(scope="module")
def unsafe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Expected]]:
    directory = tmp_path_factory.mktemp("unsafe")
    return directory, write_unsafe(directory)


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Expected]]:
    directory = tmp_path_factory.mktemp("benign")
    return directory, write_benign(directory)


def _scan(directory: Path, name: str, policy: FormatPolicy | None = None) -> tuple[str, set[str]]:
    fmt, findings = scan_file(directory / name, policy or FormatPolicy(), rel=name)
    return fmt, {f.rule for f in findings}


def test_every_unsafe_artifact_is_refused_with_its_rule(
    unsafe: tuple[Path, dict[str, Expected]],
) -> None:
    directory, expected = unsafe
    for name, exp in expected.items():
        assert _scan(directory, name) == (exp.format, set(exp.rules)), name


def test_benign_artifacts_of_every_format_pass(benign: tuple[Path, dict[str, Expected]]) -> None:
    directory, expected = benign
    for name, exp in expected.items():
        assert _scan(directory, name) == (exp.format, set(exp.rules)), name
    named = {exp.format for exp in expected.values()}
    assert named >= FORMATS - {"pickle", "numpy-pickle", "gzip", "bzip2", "xz", "zstd"} - {
        "empty",
        "unknown",
    }


@pytest.mark.parametrize("case", sorted(MALFORMED_SAFETENSORS))
def test_malformed_safetensors_name_the_rule(
    unsafe: tuple[Path, dict[str, Expected]], case: str
) -> None:
    directory, _ = unsafe
    _data, rule = MALFORMED_SAFETENSORS[case]
    _fmt, findings = scan_file(directory / f"malformed-{case}.safetensors", FormatPolicy())
    assert any(f.rule == "malformed-artifact" and rule in f.message for f in findings), findings


def test_strict_reader_accepts_what_the_reference_loader_accepts(
    benign: tuple[Path, dict[str, Expected]],
) -> None:
    from safetensors.numpy import load_file

    directory, _ = benign
    from chainguard.collectors.safetensors import read_header

    info = read_header(directory / "model.safetensors", strict=True)
    assert info.tensor_count == len(load_file(directory / "model.safetensors"))


def test_deny_pickle_turns_every_pickle_into_unsafe_format(
    benign: tuple[Path, dict[str, Expected]],
) -> None:
    directory, _ = benign
    deny = FormatPolicy(deny=("pickle",))
    assert _scan(directory, "state.pt", deny) == ("pytorch-zip", {"unsafe-format"})
    assert _scan(directory, "state.pkl", deny) == ("pickle", {"unsafe-format"})
    assert _scan(directory, "model.safetensors", deny) == ("safetensors", set())
    allow = FormatPolicy(allow=("safetensors", "json"))
    assert _scan(directory, "data.parquet", allow)[1] == {"unsafe-format"}
    per_path = FormatPolicy(paths=(PathRule("*.pkl", deny=("pickle",)),))
    assert _scan(directory, "state.pkl", per_path)[1] == {"unsafe-format"}
    assert _scan(directory, "state.pt", per_path)[1] == {"pickle-format"}


def test_detection_reads_bytes_not_names() -> None:
    assert HEAD_BYTES <= 64 * 1024
    assert PICKLE_BEARING <= FORMATS
    assert detect_format(b"", 0) == "empty"
    assert detect_format(b"\x00\x01\x02\x03garbage\xff", 12) == "unknown"
    for proto in range(6):
        data = pickle.dumps({"a": [1, (2, 3)]}, protocol=proto)
        assert detect_format(data[:HEAD_BYTES], len(data)) == "pickle", proto
    for text in (b"I think.", b"cat\ndog\nthen prose", b"hello\n"):
        assert detect_format(text, len(text)) == "text"


def test_gguf_metadata_and_template(unsafe: tuple[Path, dict[str, Expected]]) -> None:
    directory, _ = unsafe
    info = read_gguf(directory / "ssti.gguf")
    assert (info.architecture, info.quantization, info.tensor_count) == (
        "llama",
        "MOSTLY_Q4_K_M",
        1,
    )
    assert "dunder attribute" in template_risks(info.chat_template or "")
    assert template_risks("{{ messages[0]['content'] }}") == ()


def test_truncated_gguf_is_malformed(tmp_path: Path) -> None:
    (tmp_path / "cut.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 16)
    _fmt, findings = scan_file(tmp_path / "cut.gguf", FormatPolicy())
    assert [f.rule for f in findings] == ["malformed-artifact"]
