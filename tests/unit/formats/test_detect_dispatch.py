"""detect_format calls each detector only when the first bytes it requires are there: the
result must be what the plain chain of detectors, in order, gives for any head (Hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chainguard.formats import detect as d

# Heads near the cases each precheck guards: every magic number (at 0 and the offsets found
# further in), the bytes safetensors, pickles and ONNX start with, BOMs, text, control bytes.
_STARTS = [
    *d._PREFIX_MAGICS,
    b"\x80\x02",
    b"\x80\x05",
    b"(",
    b"c",
    b"}",
    b"]",
    b"\x08\x07",
    b"\x08\x01\x12\x00",
    b"\xef\xbb\xbf",
    b"\xef\xbb\xbf{",
    b"{",
    b'{"a": 1}',
    bytes(8) + b'{"x": 1}',
    b'\x10\x00\x00\x00\x00\x00\x00\x00  {"',
    b"",
    b"\x00",
    b"\x7f",
    b"\xc3\xa9t\xc3\xa9",
]
_FILLS = [b"", b"a", b" \n", b".", b"\x00", b"\x0b", b"\xe2\x82", b"\xff", b"lorem ipsum\n"]


def _reference(head: bytes, size: int) -> str:
    """The detectors in their documented order, each called unconditionally."""
    if size == 0:
        return "empty"
    found = (
        d._magic(head, size)
        or d._safetensors(head, size)
        or d._pickle(head, size)
        or d._onnx(head, size)
        or d._textual(head, size)
    )
    return found or "unknown"


@st.composite
def heads(draw: st.DrawFn) -> tuple[bytes, int]:
    head = bytearray(draw(st.sampled_from(_STARTS)))
    for _ in range(draw(st.integers(0, 3))):
        piece = draw(st.sampled_from(_FILLS)) * draw(st.integers(0, 300))
        head += piece or draw(st.binary(max_size=40))
    if draw(st.booleans()):  # a magic number further in
        offset = draw(st.sampled_from([257, 512, 1024, 2048]))
        magic = b"ustar" if offset == 257 else d._HDF5_MAGIC
        head = head.ljust(offset, draw(st.sampled_from([b"\x00", b"a"])))[:offset] + magic
    head = bytes(head[: d.HEAD_BYTES])
    extra = draw(st.sampled_from([0, 0, 1, 5, 10**6]))
    return head, len(head) + extra


@settings(max_examples=400, deadline=None)
@given(heads())
def test_detect_format_is_the_plain_chain(case: tuple[bytes, int]) -> None:
    head, size = case
    assert d.detect_format(head, size) == _reference(head, size)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 3))
def test_random_heads_too(head: bytes, extra: int) -> None:
    assert d.detect_format(head, len(head) + extra) == _reference(head, len(head) + extra)


@given(st.binary(max_size=300))
def test_has_control_is_the_byte_set(text: bytes) -> None:
    assert d._has_control(text) == any(b in d._CONTROL for b in text)


@settings(max_examples=400, deadline=None)
@given(heads())
def test_detect_structured_is_detect_format_short_of_the_text_check(
    case: tuple[bytes, int],
) -> None:
    # chainguard scan relies on it: a file it does not fully detect is one of TEXTUAL.
    head, size = case
    full = d.detect_format(head, size)
    assert d.detect_structured(head, size) == (None if full in d.TEXTUAL else full)
