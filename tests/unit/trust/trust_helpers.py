"""Helpers shared by the trust tests (imported by name; the tests dir has no __init__.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from chainguard.models import Subject
from chainguard.trust import dsse
from chainguard.trust.bundle import key_bundle_json
from chainguard.trust.keys import SigningKey
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, build_statement

SUBJECT = Subject(name="deployment:demo", digest=(("sha256", "ab" * 32),))
PREDICATE_TYPE = "https://cyclonedx.org/bom"


def statement_payload() -> bytes:
    return build_statement([SUBJECT], PREDICATE_TYPE, {"bomFormat": "CycloneDX"})


def signed_bundle(key: SigningKey, payload: bytes | None = None) -> bytes:
    envelope = dsse.sign(
        statement_payload() if payload is None else payload, PAYLOAD_TYPE_IN_TOTO, key
    )
    return key_bundle_json(envelope, key.trusted_key)


def edit_bundle(data: bytes, edit: Callable[[dict[str, object]], None]) -> bytes:
    doc = json.loads(data)
    edit(doc)
    return json.dumps(doc).encode()


def flip_payload_byte(data: bytes, index: int = 10) -> bytes:
    """The same bundle with one bit of one byte of the signed payload changed."""

    def edit(doc: dict[str, object]) -> None:
        env = doc["dsseEnvelope"]
        assert isinstance(env, dict)
        payload = bytearray(base64.b64decode(env["payload"]))
        payload[index] ^= 0x01
        env["payload"] = base64.b64encode(bytes(payload)).decode()

    return edit_bundle(data, edit)


def assert_one_line(error: BaseException) -> None:
    message = str(error)
    assert message
    assert "\n" not in message and "\r" not in message, message
