"""Fixtures for the OMS tests: freshly generated signing keys."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from pathlib import Path

import pytest

from chainguard.trust.keys import SigningAlgorithm, SigningKey, generate_keypair, load_private_key


@pytest.fixture
def make_key(tmp_path: Path) -> Callable[..., SigningKey]:
    numbers = count()

    def make(algorithm: SigningAlgorithm = "ecdsa-p256") -> SigningKey:
        key_path, _ = generate_keypair(tmp_path / f"key{next(numbers)}", algorithm)
        return load_private_key(key_path, None)

    return make
