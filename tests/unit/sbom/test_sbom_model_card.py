"""A model's modelCard (config.json facts): both render paths write the same bytes, the schema
accepts it, read.py checks its shape strictly and keeps nothing of it (verify never compares it)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from support.sbom_inputs import DATASET, DEPENDENCIES, DEPLOYMENT, MODEL, SERIAL_NUMBER, TIMESTAMP
from support.surgery import component_of

from chainguard.collectors.modelconfig import ModelConfig
from chainguard.errors import SbomError
from chainguard.sbom.build import build_sbom
from chainguard.sbom.read import read_sbom

CONFIG = ModelConfig(
    model_type="llama",
    architectures=("LlamaForCausalLM", "Other été"),
    facts=(("torch_dtype", "bfloat16"), ("vocab_size", "128256")),
)
CARDED = replace(MODEL, model_config=CONFIG)


def built(*, via_cyclonedx: bool = False, model: Any = CARDED) -> bytes:
    return build_sbom(
        DEPLOYMENT,
        (model, DATASET),
        DEPENDENCIES,
        timestamp=TIMESTAMP,
        serial_number=SERIAL_NUMBER,
        files_via_cyclonedx=via_cyclonedx,
    )


def test_model_card_written_identically_by_both_paths_and_schema_valid() -> None:
    direct = built()
    assert direct == built(via_cyclonedx=True)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(direct.decode()) is None
    card = component_of(json.loads(direct), "model:llama-mini")["modelCard"]
    assert card == {
        "modelParameters": {
            "architectureFamily": "llama",
            "modelArchitecture": "LlamaForCausalLM,Other été",
        },
        "properties": [
            {"name": "chainguard:config:torch_dtype", "value": "bfloat16"},
            {"name": "chainguard:config:vocab_size", "value": "128256"},
        ],
    }


def test_reader_accepts_it_and_expects_the_same_state_as_without() -> None:
    with_card = read_sbom(built(), "with")
    without = read_sbom(built(model=MODEL), "without")
    assert with_card.components == without.components


def test_only_a_model_gets_one() -> None:
    with pytest.raises(ValueError, match="only a model"):
        built(model=replace(DATASET, name="d", model_config=CONFIG))
    with pytest.raises(ValueError, match="empty"):
        built(model=replace(MODEL, model_config=ModelConfig()))


def _with_card(card: object, bom_ref: str = "model:llama-mini") -> bytes:
    doc = json.loads(built())
    component_of(doc, bom_ref)["modelCard"] = card
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("card", "bom_ref", "message"),
    [
        ("llama", "model:llama-mini", "modelCard must be an object"),
        ({"notes": "x"}, "model:llama-mini", "unknown key 'notes'"),
        ({"modelParameters": []}, "model:llama-mini", "modelParameters must be an object"),
        (
            {"modelParameters": {"architectureFamily": 7}},
            "model:llama-mini",
            "architectureFamily must be a string",
        ),
        ({"properties": [{"name": 1}]}, "model:llama-mini", "name must be a string"),
        (
            {"properties": [{"name": "chainguard:config:a", "value": "1"}] * 2},
            "model:llama-mini",
            "appears twice",
        ),
        ({"considerations": "none"}, "model:llama-mini", "considerations must be an object"),
        ({}, "dataset:llama-mini", "only a model may have one"),
    ],
)
def test_malformed_model_card_is_refused(card: object, bom_ref: str, message: str) -> None:
    with pytest.raises(SbomError, match=message) as raised:
        read_sbom(_with_card(card, bom_ref), "sbom.json")
    assert "\n" not in str(raised.value)
