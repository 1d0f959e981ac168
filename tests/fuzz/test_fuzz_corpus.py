"""Every seed and regression input in tests/fuzz/corpus/ replayed through its target, without
atheris: the corpora stay valid regression inputs, and a fuzz target that stopped reaching its
parser (every seed refused at the door) is caught here."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz.make_corpus import SEEDS
from fuzz.targets import CORPUS, TARGETS, _signing_key, corpus_files

from chainguard._strictjson import loads_strict
from chainguard.errors import BundleError
from chainguard.sbom.read import read_sbom
from chainguard.trust.statement import parse_statement
from chainguard.trust.stream import verify_key_bundle_streamed

CASES = [(name, path) for name in TARGETS for path in corpus_files(name)]


def test_every_target_has_seeds_and_a_seed_generator() -> None:
    assert set(SEEDS) == set(TARGETS)
    assert {p.name for p in CORPUS.iterdir() if p.is_dir()} == set(TARGETS)
    for name in TARGETS:
        assert any(p.name.startswith("seed-") for p in corpus_files(name)), name


@pytest.mark.parametrize(("target", "path"), CASES, ids=[f"{n}/{p.name}" for n, p in CASES])
def test_corpus_input_replays_without_crashing(target: str, path: Path) -> None:
    TARGETS[target].run(path.read_bytes())


def test_sbom_seeds_are_accepted_so_fuzzing_starts_past_the_checks() -> None:
    for path in corpus_files("sbom_read"):
        if path.name.startswith("seed-"):
            assert read_sbom(path.read_bytes(), path.name).deployment.name
    for path in corpus_files("sbom_differential"):
        if path.name.startswith("seed-") and "other-predicate" not in path.name:
            data = path.read_bytes()
            assert parse_statement(data, path.name).subjects
            assert isinstance(loads_strict(data, path.name, BundleError), dict)


def test_bundle_stream_seeds_are_streamed_so_the_differential_compares() -> None:
    key = _signing_key().trusted_key
    for path in corpus_files("bundle_stream"):
        if path.name.startswith("seed-"):
            assert verify_key_bundle_streamed(path, [key], source=path.name) is not None
