"""OpenSSF model signing: writing signatures (chainguard/oms/sign.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from oms_helpers import A, B, C, assert_one_line, manifest, payload_of
from support.oms import (
    sha256_hex,
)

from chainguard import oms
from chainguard.errors import (
    InputError,
    UsageError,
)
from chainguard.trust.keys import SigningKey

# ---------------------------------------------------------------------------------- signing


def test_signed_bundle_has_model_signing_shape(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    model = tmp_path / "my-model"
    (model / "a").mkdir(parents=True)
    (model / "a" / "b").write_bytes(b"b")
    (model / "a-c").write_bytes(b"c")
    (model / "skip").write_bytes(b"s")
    key = make_key("ecdsa-p256")

    data = oms.sign_oms(model, key, ["skip"])
    doc = json.loads(data)
    payload = json.loads(payload_of(data))

    from chainguard.trust.keys import pem_hint

    assert doc["verificationMaterial"] == {
        "publicKey": {"hint": pem_hint(key.public_key)},
        "tlogEntries": [],
    }
    assert doc["dsseEnvelope"]["signatures"][0]["keyid"] == ""
    # sorted as paths (components), not as strings: "a/b" before "a-c"
    assert [r["name"] for r in payload["predicate"]["resources"]] == ["a/b", "a-c"]
    assert payload["subject"] == [
        {"name": "my-model", "digest": {"sha256": sha256_hex(bytes.fromhex(B + C))}}
    ]
    serialization = payload["predicate"]["serialization"]
    assert serialization["ignore_paths"] == [*oms.GIT_PATHS, "skip"]
    assert serialization["allow_symlinks"] is False
    assert manifest(payload_of(data)).ignore_paths == (*oms.GIT_PATHS, "skip")


def test_single_file_is_signed_as_dot(tmp_path: Path, make_key: Callable[..., SigningKey]) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"a")
    found = manifest(payload_of(oms.sign_oms(weights, make_key(), [])))
    assert [(r.path, r.digest) for r in found.resources] == [(".", A)]
    assert found.model_name == "w.bin"


def test_links_inside_the_model_are_allowed_and_recorded(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "real").write_bytes(b"a")
    (model / "alias").symlink_to("real")
    found = manifest(payload_of(oms.sign_oms(model, make_key(), [])))
    assert found.allow_symlinks is True
    assert [(r.path, r.digest) for r in found.resources] == [("alias", A), ("real", A)]


def test_ed25519_cannot_make_oms_signatures(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(UsageError) as caught:
        oms.sign_oms(tmp_path, make_key("ed25519"), [])
    assert "ECDSA" in str(caught.value)


@pytest.mark.parametrize("entry", ["*.tmp", "cache/[ab]", "../x", "/abs", "a//b"])
def test_sign_ignore_takes_literal_relative_paths(
    tmp_path: Path, make_key: Callable[..., SigningKey], entry: str
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(UsageError):
        oms.sign_oms(tmp_path, make_key(), [entry])


def test_refuses_to_sign_a_tree_with_anomalies(
    tmp_path: Path, make_key: Callable[..., SigningKey]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "escape").symlink_to("/etc/hostname")
    with pytest.raises(InputError) as caught:
        oms.sign_oms(tmp_path, make_key(), [])
    assert "symlink-escape" in str(caught.value)
    assert_one_line(caught.value)


def test_model_named_after_the_resolved_directory(
    tmp_path: Path, make_key: Callable[..., SigningKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "bert-base"
    model.mkdir()
    (model / "a").write_bytes(b"a")
    monkeypatch.chdir(model)
    assert manifest(payload_of(oms.sign_oms(Path("."), make_key(), []))).model_name == "bert-base"
