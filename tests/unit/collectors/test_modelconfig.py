"""config.json → model card facts: bounded, strict, read as hashed; anything odd is a note."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from chainguard.collectors.modelconfig import MAX_CONFIG_BYTES, ModelConfig, read_model_config
from chainguard.models import FileDigest


def listed(root: Path, data: bytes) -> tuple[FileDigest, ...]:
    (root / "config.json").write_bytes(data)
    return (FileDigest("config.json", len(data), hashlib.sha256(data).hexdigest()),)


def test_facts_of_a_transformers_config(tmp_path: Path) -> None:
    doc = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "torch_dtype": "bfloat16",
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "vocab_size": 128256,
        "id2label": {"0": "A"},  # not a recorded fact
        "rope_scaling": None,
    }
    config, notes = read_model_config(tmp_path, listed(tmp_path, json.dumps(doc).encode()))
    assert notes == ()
    assert config == ModelConfig(
        model_type="llama",
        architectures=("LlamaForCausalLM",),
        facts=(
            ("torch_dtype", "bfloat16"),
            ("hidden_size", "4096"),
            ("num_hidden_layers", "32"),
            ("vocab_size", "128256"),
        ),
    )


def test_no_config_json_is_no_card_and_no_note(tmp_path: Path) -> None:
    other = (FileDigest("model.safetensors", 1, "0" * 64),)
    assert read_model_config(tmp_path, other) == (None, ())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"model_type": "a", "model_type": "b"}', "duplicate JSON key"),
        (b'{"hidden_size": NaN}', "not valid JSON"),
        (b"\xff{}", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"model_type": ', "not valid JSON"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_config_gives_a_note_not_an_error(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    config, notes = read_model_config(tmp_path, listed(tmp_path, data))
    assert config is None
    assert len(notes) == 1 and "no modelCard" in notes[0] and reason in notes[0]
    assert "\n" not in notes[0]


def test_oversized_config_is_not_read(tmp_path: Path) -> None:
    data = b'{"model_type": "bert", "pad": "' + b"x" * MAX_CONFIG_BYTES + b'"}'
    config, notes = read_model_config(tmp_path, listed(tmp_path, data))
    assert config is None and "larger than" in notes[0]


def test_config_changed_after_hashing_gives_no_card(tmp_path: Path) -> None:
    files = listed(tmp_path, b'{"model_type": "bert"}')
    (tmp_path / "config.json").write_bytes(b'{"model_type": "evil"}')
    config, notes = read_model_config(tmp_path, files)
    assert config is None and "changed after it was hashed" in notes[0]


def test_facts_of_the_wrong_type_are_left_out_with_a_note(tmp_path: Path) -> None:
    doc = {
        "model_type": "bert\n",
        "architectures": ["A,B"],
        "hidden_size": "big",
        "vocab_size": True,
        "num_hidden_layers": -1,
        "torch_dtype": 16,
        "dtype": "x" * 201,
        "max_position_embeddings": 512,
    }
    config, notes = read_model_config(tmp_path, listed(tmp_path, json.dumps(doc).encode()))
    assert config == ModelConfig(facts=(("max_position_embeddings", "512"),))
    left = sorted(n.split(": ")[1].split(" ")[0] for n in notes)
    assert left == sorted(
        [
            "model_type",
            "architectures",
            "hidden_size",
            "vocab_size",
            "num_hidden_layers",
            "torch_dtype",
            "dtype",
        ]
    )


def test_a_config_without_any_fact_gives_no_card(tmp_path: Path) -> None:
    assert read_model_config(tmp_path, listed(tmp_path, b'{"foo": 1}')) == (None, ())
