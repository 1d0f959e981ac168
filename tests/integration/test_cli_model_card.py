"""sbom build records a model's config.json facts as its modelCard; a malformed config.json is a
note, never a failed build; verify passes either way (the card is never compared)."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import cli
from support.release import make_release
from support.surgery import component_of

CONFIG = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 512}


def test_model_card_from_config_json_and_verify_passes(tmp_path: Path) -> None:
    files = {"config.json": json.dumps(CONFIG).encode(), "vocab.txt": b"a\nb\n"}
    release = make_release(tmp_path, models={"bert": files}, via="cli")
    card = component_of(release.document(), "model:bert")["modelCard"]
    assert card["modelParameters"] == {
        "architectureFamily": "bert",
        "modelArchitecture": "BertModel",
    }
    assert card["properties"] == [{"name": "chainguard:config:vocab_size", "value": "512"}]
    assert release.verify().code == 0


def test_malformed_config_json_is_a_build_note(tmp_path: Path) -> None:
    model = tmp_path / "bert"
    model.mkdir()
    (model / "config.json").write_bytes(b'{"model_type": "bert", "model_type": "gpt2"}')
    sbom = tmp_path / "sbom.json"
    outcome = cli("sbom", "build", "--model", model, "--name", "svc", "--version", "1", "-o", sbom)
    assert outcome.code == 0, outcome
    assert "config.json: no modelCard (duplicate JSON key 'model_type')" in outcome.stderr
    assert "modelCard" not in component_of(json.loads(sbom.read_bytes()), "model:bert")
