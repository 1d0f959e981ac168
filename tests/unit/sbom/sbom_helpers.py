"""Inputs and document surgery shared by the SBOM tests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from chainguard.models import (
    Dependency,
    DeploymentInfo,
    FileDigest,
    Property,
    SafetensorsInfo,
    tree_digest,
)
from chainguard.sbom.build import ComponentInput, build_sbom

TIMESTAMP = datetime(2026, 11, 26, 21, 0, 0, tzinfo=timezone.utc)
SERIAL_NUMBER = UUID("12345678-1234-5678-1234-567812345678")
SHARD = 10  # a tiny shard size so a 25-byte file has three shards


def hexdigest(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def plain_file(path: str, size: int = 3, **kwargs: Any) -> FileDigest:
    return FileDigest(path=path, size=size, sha256=hexdigest(path + str(size)), **kwargs)


def sharded_file(path: str, size: int = 25) -> FileDigest:
    count = -(-size // SHARD)
    return FileDigest(
        path=path,
        size=size,
        sha256=hexdigest(path),
        shard_size=SHARD,
        shards=tuple(hexdigest(f"{path}#{i}") for i in range(count)),
    )


DEPLOYMENT = DeploymentInfo(
    name="fraud-scorer",
    version="2.3.1",
    serial=7,
    expires="2027-01-01T00:00:00Z",
    bom_serial_number=f"urn:uuid:{SERIAL_NUMBER}",
)

MODEL = ComponentInput(
    kind="model",
    name="llama-mini",
    files=(
        plain_file("config.json", 120, blake3=hexdigest("b3")),
        sharded_file("model.safetensors", 25),
        plain_file(
            "weights/extra.safetensors",
            80,
            safetensors=SafetensorsInfo(
                tensor_count=3,
                dtypes=("BF16", "F32"),
                parameters=1234,
                metadata=(("empty", ""), ("format", "pt"), ("note", "line\nbreak, comma")),
            ),
        ),
        plain_file("tokenizer/vocab été.txt", 0),
    ),
)

DATASET = ComponentInput(
    kind="dataset",
    name="llama-mini",  # same name as the model: names are unique per kind only
    files=(plain_file("train/part-0.parquet", 1000), plain_file("README.md", 10)),
)

DEPENDENCIES = (
    Dependency(
        name="numpy",
        version="2.1.0",
        hashes=(f"sha256:{hexdigest('np-sdist')}", f"sha256:{hexdigest('np-wheel')}"),
        source="requirements.lock",
        purl="pkg:pypi/numpy@2.1.0",
    ),
    Dependency(
        name="safetensors",
        version="0.4.5",
        record_sha256=hexdigest("record"),
        extras=(Property("installer", "pip"),),
    ),
)


def build(
    deployment: DeploymentInfo = DEPLOYMENT,
    components: tuple[ComponentInput, ...] = (MODEL, DATASET),
    dependencies: tuple[Dependency, ...] = DEPENDENCIES,
) -> bytes:
    return build_sbom(
        deployment,
        components,
        dependencies,
        timestamp=TIMESTAMP,
        serial_number=SERIAL_NUMBER,
    )


def component(doc: dict[str, Any], bom_ref: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c.get("bom-ref") == bom_ref)


def file_node(doc: dict[str, Any], bom_ref: str, path: str) -> dict[str, Any]:
    return next(f for f in component(doc, bom_ref)["components"] if f["name"] == path)


def props(node: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p.get("value", "") for p in node.get("properties", [])}


def set_prop(node: dict[str, Any], name: str, value: str | None) -> None:
    """Set (or with None, remove) a property on a node."""
    kept = [p for p in node.get("properties", []) if p["name"] != name]
    if value is not None:
        kept.append({"name": name, "value": value})
    node["properties"] = kept


def reseal(doc: dict[str, Any]) -> None:
    """Recompute every tree component's root digest, file count and total size from its files,
    so that a test's mutation reaches the check it targets instead of the digest check."""
    for c in doc.get("components", []):
        if not isinstance(c, dict) or c.get("type") not in ("machine-learning-model", "data"):
            continue
        files = []
        try:
            for f in c.get("components", []):
                sha = next(h["content"] for h in f["hashes"] if h["alg"] == "SHA-256")
                size = int(props(f)["chainguard:size"])
                files.append(FileDigest(path=f["name"], size=size, sha256=sha))
            digest = tree_digest(files)
        except (KeyError, ValueError, TypeError, AttributeError, StopIteration, UnicodeEncodeError):
            continue  # the mutation broke a file entry; read.py rejects it before the digest
        c["hashes"] = [{"alg": "SHA-256", "content": digest}]
        set_prop(c, "chainguard:file-count", str(len(files)))
        set_prop(c, "chainguard:total-size", str(sum(f.size for f in files)))


def mutated(mutate: Callable[[dict[str, Any]], object], *, seal: bool = True) -> bytes:
    doc = json.loads(build())
    mutate(doc)
    if seal:
        reseal(doc)
    return json.dumps(doc).encode()
