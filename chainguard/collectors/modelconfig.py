"""A model's Hugging Face-style ``config.json`` → the facts its CycloneDX ``modelCard`` records.

Informative only: verify never compares a model card (the files' digests are what is signed and
checked). So a config.json that cannot be read as expected gives no facts and a note, never an
error that stops a build.

Bounded and strict: at most MAX_CONFIG_BYTES, UTF-8, strict JSON (a duplicate key or NaN
refused), an object at the top. The bytes read must have the SHA-256 the tree walk recorded for
``config.json``, so the card describes exactly the file whose digest is signed (a file changed
in between gives a note, no card). A fact of an unexpected type (``hidden_size: "big"``) is left
out with a note; keys not in FACT_KEYS are not recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chainguard._strictjson import loads_strict
from chainguard.errors import InputError
from chainguard.models import MAX_DECIMAL, FileDigest

CONFIG_NAME = "config.json"
# Real config.json files are a few KB (a long id2label table: some hundreds of KB).
MAX_CONFIG_BYTES = 1 << 20
MAX_TEXT = 200  # characters of one recorded string value
MAX_ARCHITECTURES = 16
# config.json keys recorded as modelCard properties, in this order (the name of the dtype key
# changed in transformers 4.56: older files say torch_dtype, newer ones dtype).
FACT_KEYS = (
    "torch_dtype",
    "dtype",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "transformers_version",
)
TEXT_KEYS = frozenset({"torch_dtype", "dtype", "transformers_version"})  # the rest: integers


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """What a config.json says about a model (sbom/build.py maps it onto a modelCard)."""

    model_type: str | None = None  # "bert", "llama": the architecture family
    architectures: tuple[str, ...] = ()  # "BertForMaskedLM"
    facts: tuple[tuple[str, str], ...] = ()  # (FACT_KEYS key, value as text), in FACT_KEYS order

    def __bool__(self) -> bool:
        return bool(self.model_type or self.architectures or self.facts)


class _Unreadable(InputError):
    """config.json is not strict JSON: caught here and turned into a note, never raised on."""


def read_model_config(
    root: Path, files: Sequence[FileDigest]
) -> tuple[ModelConfig | None, tuple[str, ...]]:
    """The facts of ``root/config.json`` if the hashed ``files`` list one, and notes on what was
    left out. None (and no note) when there is no config.json."""
    listed = next((f for f in files if f.path == CONFIG_NAME), None)
    if listed is None or root.is_file():
        return None, ()
    path = root / CONFIG_NAME
    where = f"{path}: no modelCard"
    if listed.size > MAX_CONFIG_BYTES:
        return None, (f"{where} (larger than {MAX_CONFIG_BYTES} bytes)",)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        return None, (f"{where} (cannot read it: {e.strerror or e})",)
    if hashlib.sha256(data).hexdigest() != listed.sha256:
        return None, (f"{where} (it changed after it was hashed)",)
    try:
        doc = loads_strict(data, str(path), _Unreadable)
    except _Unreadable as e:
        return None, (f"{where} ({str(e).removeprefix(f'{path}: ')})",)
    if not isinstance(doc, dict):
        return None, (f"{where} (not a JSON object)",)
    notes: list[str] = []

    def left_out(key: str, expected: str) -> None:
        notes.append(f"{path}: {key} is not {expected}; left out of the modelCard")

    model_type = doc.get("model_type")
    if model_type is not None and not _is_short_text(model_type):
        left_out("model_type", f"a string of 1 to {MAX_TEXT} characters")
        model_type = None
    architectures = doc.get("architectures")
    if architectures is not None and not (
        isinstance(architectures, list)
        and 0 < len(architectures) <= MAX_ARCHITECTURES
        and all(_is_short_text(a) and "," not in a for a in architectures)
    ):
        left_out("architectures", f"a list of 1 to {MAX_ARCHITECTURES} names")
        architectures = None
    facts: list[tuple[str, str]] = []
    for key in FACT_KEYS:
        value = doc.get(key)
        if value is None:
            continue
        if key in TEXT_KEYS:
            if _is_short_text(value):
                facts.append((key, str(value)))
            else:
                left_out(key, f"a string of 1 to {MAX_TEXT} characters")
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DECIMAL:
            facts.append((key, str(value)))
        else:
            left_out(key, "a non-negative integer")
    config = ModelConfig(
        model_type=model_type, architectures=tuple(architectures or ()), facts=tuple(facts)
    )
    return (config if config else None), tuple(notes)


def _is_short_text(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_TEXT
        and value.isprintable()
        and value.strip() == value
    )
