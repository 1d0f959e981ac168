"""The bundle's base64 decoder (pybase64) must answer exactly as the strict standard one does:
same bytes for every valid text, an error for everything else."""

from __future__ import annotations

import base64
import binascii
import os
import sys

import pytest

from chainguard.errors import BundleError
from chainguard.trust.bundle import _a2b, _decode_b64


def reference(text: str | bytes) -> bytes | None:
    """b64decode(validate=True), plus binascii's strict padding rule where Python has it."""
    try:
        if sys.version_info >= (3, 11):
            return binascii.a2b_base64(text, strict_mode=True)  # type: ignore[call-arg, unused-ignore]
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def ours(text: str | bytes) -> bytes | None:
    try:
        return _a2b(text)
    except (binascii.Error, ValueError):
        return None


ODD = [
    b"",
    b"QUI=",
    b"QUJD",
    b"QUJDRA==",
    b"QUJDRB==",  # valid (RB: non-zero trailing bits)
    b"QUI==",
    b"=",
    b"QU=I",
    b"QUI=QUI=",
    b"QUJDRA=",  # padding in the wrong amount or place
    b"QU",
    b"QUI",  # unpadded (the caller pads protobuf-JSON fields first)
    b"QUJD\n",
    b" QUJD",
    b"Q$JD",
    b"QUJD-_==",
    b"QU\x00D",  # outside the standard alphabet
]


@pytest.mark.parametrize("text", ODD, ids=[repr(t) for t in ODD])
def test_odd_texts_decode_or_fail_like_the_standard_decoder(text: bytes) -> None:
    if sys.version_info < (3, 11) and b"=" in text and ours(text) is None:
        pytest.skip("Python 3.10's decoder is lax about padding ('QUI==', '='); ours refuses")
    assert ours(text) == reference(text)
    assert ours(text.decode("latin-1")) == reference(text.decode("latin-1"))


def test_non_ascii_text_is_refused() -> None:
    assert ours("QUJDé===") is None


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 63, 64, 65, 4096, 1 << 20, (1 << 20) + 1])
def test_random_bytes_round_trip(size: int) -> None:
    data = os.urandom(size)
    encoded = base64.b64encode(data)
    assert _a2b(encoded) == data
    assert _a2b(encoded.decode()) == data
    assert _a2b(memoryview(b"{" + encoded + b"}")[1:-1]) == data


def test_protobuf_json_fields_accept_url_safe_and_unpadded_but_not_both_alphabets() -> None:
    data = bytes(range(256))
    std = base64.b64encode(data).decode()
    url = base64.urlsafe_b64encode(data).decode()
    assert _decode_b64(std, "f", "src") == data
    assert _decode_b64(url.rstrip("="), "f", "src") == data
    with pytest.raises(BundleError, match="mixes standard and URL-safe"):
        _decode_b64(std[:8] + "-_" + std[10:], "f", "src")
    with pytest.raises(BundleError, match="src: f is not valid base64"):
        _decode_b64("QUJD!", "f", "src")
    with pytest.raises(BundleError, match="not a base64 string"):
        _decode_b64(3, "f", "src")
