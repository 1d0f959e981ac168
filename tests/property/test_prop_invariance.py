"""The findings do not depend on how the tree was walked or hashed (Hypothesis).

One generated tree and one mutation, built and signed with two shard sizes, written once in
path order and once in a shuffled order (on tmpfs, where a directory lists its entries in the
order they were created), and hashed with several worker counts, worker-process thresholds and
small-file sizes: the findings, as a set of (rule, path), are always the same.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.release import make_release
from support.trees import MIB, Mutation, Tree, apply, examples, mutations, trees, write_tree

from chainguard import api
from chainguard.collectors.tree import collect_tree
from chainguard.compare import compare_tree
from chainguard.hashing import CHUNK_SIZE, HashSettings
from chainguard.models import DEFAULT_SHARD_SIZE

pytestmark = pytest.mark.slow  # two releases per example, each hashed several ways

# tmpfs lists entries in (reverse) creation order; ext4 in hash order, whatever the creation.
SHUFFLED_ROOT = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

SETTINGS: st.SearchStrategy[dict[str, int | None]] = st.builds(
    dict,
    workers=st.integers(1, 3),
    process_min_files=st.sampled_from([0, 1, 10**6]),  # worker processes, or the calling thread
    small_file_size=st.sampled_from([0, 4096, CHUNK_SIZE]),
    shard_size=st.sampled_from([None, MIB, DEFAULT_SHARD_SIZE]),  # None: the signed one
)


@contextmanager
def _directory(shuffled: bool) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=SHUFFLED_ROOT if shuffled else None) as tmp:
        yield Path(tmp)


def findings_of(
    root: Path,
    tree: Tree,
    mutation: Mutation,
    shard_size: int,
    order: random.Random | None,
    hashings: list[dict[str, int | None]],
) -> list[frozenset[tuple[str, str]]]:
    """Build and sign ``tree`` (written in ``order``), apply ``mutation``, and return the
    findings of verify_tree and of each way of hashing in ``hashings``."""
    directory = write_tree(root / "data", tree, order)
    release = make_release(
        root, datasets=[directory], version="1", sbom_name="r.cdx.json", shard_size=shard_size
    )
    apply(directory, mutation)
    trust = release.trust()
    report = api.verify_tree(directory, kind="dataset", trust=trust)
    results = [frozenset((f.rule, f.path) for f in report.findings)]
    state = api.establish_trust(trust).state
    assert state is not None
    chosen = api.select_component(state, "dataset", directory, None)
    signed_shards = {f.path: f.shard_size for f in chosen.files if f.shards}
    for hashing in hashings:
        size = hashing["shard_size"] or shard_size
        settings = HashSettings(**{**hashing, "shard_size": size})  # type: ignore[arg-type]
        observed = collect_tree(directory, settings, mode="verify", shard_sizes=signed_shards)
        results.append(frozenset((f.rule, f.path) for f in compare_tree(chosen, observed)))
    return results


@examples(15)
@given(
    data=st.data(),
    shard_sizes=st.lists(
        st.sampled_from([MIB, 2 * MIB, DEFAULT_SHARD_SIZE]), min_size=2, max_size=2
    ),
    hashings=st.lists(SETTINGS, min_size=1, max_size=2),
    seed=st.integers(0, 2**32),
)
def test_findings_do_not_depend_on_walk_order_workers_or_shard_size(
    data: st.DataObject,
    shard_sizes: list[int],
    hashings: list[dict[str, int | None]],
    seed: int,
) -> None:
    tree = data.draw(trees(MIB), label="tree")
    mutation = data.draw(mutations(tree), label="mutation")
    results: list[frozenset[tuple[str, str]]] = []
    for i, shard_size in enumerate(shard_sizes):
        shuffled = i > 0
        with _directory(shuffled) as root:
            order = random.Random(seed) if shuffled else None
            results += findings_of(root, tree, mutation, shard_size, order, hashings)
    assert len(set(results)) == 1, (mutation, results)
