"""Fixed inputs shared by the SBOM unit tests: one deployment, model, dataset and
dependencies, built with a fixed timestamp and serial number (edits: support.surgery)."""

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
)
from chainguard.sbom.build import ComponentInput, build_sbom
from support.surgery import reseal_all

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


def mutated(mutate: Callable[[dict[str, Any]], object], *, seal: bool = True) -> bytes:
    doc = json.loads(build())
    mutate(doc)
    if seal:
        reseal_all(doc)
    return json.dumps(doc).encode()
