"""Large bundles (a dataset's SBOM: tens of MB of base64) are read with the DSSE payload cut out
of the JSON first (bundle._cut_payload). That must read exactly what the plain parse reads, and
fail exactly as it fails."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from trust_helpers import PREDICATE_TYPE, SUBJECT, signed_bundle

from chainguard.errors import BundleError
from chainguard.trust import bundle as bundle_module
from chainguard.trust.bundle import read_bundle, read_bundle_file, verify_key_bundle
from chainguard.trust.keys import SigningKey
from chainguard.trust.statement import build_statement

BIG = bundle_module._CUT_FROM


def big_payload() -> bytes:
    # a statement larger than the cut threshold, with a "/" and "+" in its base64
    notes = base64.b64encode(os.urandom(BIG)).decode()
    return build_statement([SUBJECT], PREDICATE_TYPE, {"bomFormat": "CycloneDX", "n": notes})


@pytest.fixture
def big(signing_key: SigningKey) -> bytes:
    return signed_bundle(signing_key, big_payload())


def plain_read(data: bytes) -> object:
    """read_bundle with the cut switched off: the reference."""
    saved = bundle_module._CUT_FROM
    bundle_module._CUT_FROM = 1 << 62
    try:
        return _result(data)
    finally:
        bundle_module._CUT_FROM = saved


def _result(data: bytes) -> object:
    try:
        b = read_bundle(data, "b.sig")
    except BundleError as e:
        return ("error", str(e))
    return (b.media_type, b.material_kind, b.public_key_hint, b.envelope, b.message_signature)


def test_a_large_payload_is_cut_out_and_verifies(big: bytes, signing_key: SigningKey) -> None:
    parsed = read_bundle(big, "b.sig")
    assert parsed.raw["dsseEnvelope"]["payload"] is None  # type: ignore[index]
    assert _result(big) == plain_read(big)
    verified = verify_key_bundle(parsed, [signing_key.trusted_key], source="b.sig")
    assert verified.payload == parsed.envelope.payload  # type: ignore[union-attr]


def _edit(data: bytes, old: bytes, new: bytes, count: int = 1) -> bytes:
    assert old in data
    return data.replace(old, new, count)


EDITS = {
    # JSON escapes inside the payload string: valid JSON, and base64 once unescaped
    "escaped-slash": lambda d: _edit(d, b"/", b"\\/", 3),
    "url-safe": lambda d: d.replace(b"+", b"-").replace(b"/", b"_"),
    "no-padding": lambda d: d.replace(b'=",', b'",'),
    "nul-elsewhere": lambda d: _edit(d, b'"keyid": "', b'"keyid": "\\u0000'),
    "payload-key-earlier": lambda d: _edit(d, b'"hint": "', b'"payload": "x", "hint": "'),
    "duplicate-payload": lambda d: _edit(d, b'"payloadType"', b'"payload": "QQ==", "payloadType"'),
    "whitespace": lambda d: _edit(d, b'"payload": "', b'"payload" :\n "'),
    "not-base64": lambda d: _edit(d, b'"payload": "', b'"payload": "*'),
    "raw-newline": lambda d: _edit(d, b'"payload": "', b'"payload": "\n'),
    "lone-padding": lambda d: _edit(d, b'"payload": "', b'"payload": "='),
    "truncated": lambda d: d[: len(d) // 2],
    "unterminated": lambda d: d[: d.index(b'"payload": "') + 100],
    "garbage-after": lambda d: d + b"x",
    "payload-number": lambda d: (
        d[: d.index(b'"payload": "') + 11]
        + b"1"
        + d[d.index(b'",', d.index(b'"payload": "')) + 1 :]
    ),
}


@pytest.mark.parametrize("edit", list(EDITS.values()), ids=list(EDITS))
def test_edited_large_bundles_read_or_fail_like_the_plain_parse(big: bytes, edit: object) -> None:
    data = edit(big)  # type: ignore[operator]
    assert _result(data) == plain_read(data)


def test_compact_and_small_bundles_take_the_plain_path(signing_key: SigningKey) -> None:
    small = signed_bundle(signing_key)
    assert read_bundle(small, "s").raw["dsseEnvelope"]["payload"]  # type: ignore[index]
    compact = json.dumps(json.loads(signed_bundle(signing_key, big_payload()))).encode()
    assert _result(compact) == plain_read(compact)


# --- streamed from the file (bundle._stream_payload): never the whole file in memory ------------


def _file_result(data: bytes, tmp_path: Path, piece: int) -> object:
    path = tmp_path / "b.sig"
    path.write_bytes(data)
    saved = bundle_module._STREAM_PIECE
    bundle_module._STREAM_PIECE = piece
    try:
        b, _ = read_bundle_file(path, "b.sig")
    except BundleError as e:
        return ("error", str(e))
    finally:
        bundle_module._STREAM_PIECE = saved
    return (b.media_type, b.material_kind, b.public_key_hint, b.envelope, b.message_signature)


@pytest.mark.parametrize("piece", [4, 4096, 65_536, 8 * 1024 * 1024])
def test_a_large_bundle_file_is_streamed_and_reads_the_same(
    big: bytes, tmp_path: Path, piece: int
) -> None:
    path = tmp_path / "b.sig"
    path.write_bytes(big)
    parsed, raw = read_bundle_file(path, "b.sig")
    assert raw is None  # streamed: the file's bytes were never held
    assert parsed.raw["dsseEnvelope"]["payload"] is None  # type: ignore[index]
    assert _file_result(big, tmp_path, piece) == plain_read(big)


@pytest.mark.parametrize("edit", list(EDITS.values()), ids=list(EDITS))
@pytest.mark.parametrize("piece", [4096, 8 * 1024 * 1024])
def test_edited_large_bundle_files_read_or_fail_like_the_plain_parse(
    big: bytes, tmp_path: Path, edit: object, piece: int
) -> None:
    data = edit(big)  # type: ignore[operator]
    assert _file_result(data, tmp_path, piece) == plain_read(data)


def test_padding_at_a_piece_boundary_and_in_the_middle(
    tmp_path: Path, signing_key: SigningKey
) -> None:
    data = signed_bundle(signing_key, big_payload())
    start = data.index(b'"payload": "') + len(b'"payload": "')
    end = data.index(b'"', start)
    text = data[start:end]
    # "=" inside the text (not base64 as a whole, though each 4-character group decodes)
    middle = data[:start] + text[:8] + b"QQ==" + text[8:] + data[end:]
    assert _file_result(middle, tmp_path, 4096) == plain_read(middle)
    unreadable = tmp_path / "missing.sig"
    with pytest.raises(BundleError, match="cannot read"):
        read_bundle_file(unreadable, "missing.sig")
