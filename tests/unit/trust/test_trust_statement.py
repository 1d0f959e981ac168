from __future__ import annotations

import json

import pytest
from trust_helpers import assert_one_line

from chainguard.errors import BundleError
from chainguard.models import Subject
from chainguard.trust.statement import STATEMENT_TYPE_V1, build_statement, parse_statement

SHA = "ab" * 32


def _statement(**fields: object) -> bytes:
    doc: dict[str, object] = {
        "_type": STATEMENT_TYPE_V1,
        "subject": [{"name": "model", "digest": {"sha256": SHA}}],
        "predicateType": "https://cyclonedx.org/bom",
        "predicate": {"bomFormat": "CycloneDX"},
    }
    for key, value in fields.items():
        if value is _DROP:
            del doc[key]
        else:
            doc[key] = value
    return json.dumps(doc).encode()


_DROP = object()


def test_build_is_deterministic_and_exact() -> None:
    subjects = [
        Subject("model", (("sha256", SHA),)),
        Subject("deployment:prod", (("sha256", "cd" * 32), ("sha512", "ef" * 64))),
    ]
    built = build_statement(subjects, "https://example.com/p", {"z": 1, "a": "é"})

    assert built == build_statement(subjects, "https://example.com/p", {"z": 1, "a": "é"})
    assert built.startswith(
        b'{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"model"'
    )
    assert '"predicate":{"z":1,"a":"é"}}'.encode() in built  # key order kept, UTF-8 not escaped
    assert b" " not in built


def test_build_parse_round_trip() -> None:
    subjects = (Subject("model", (("sha256", SHA),)), Subject("other", (("sha512", "01" * 64),)))
    parsed = parse_statement(build_statement(subjects, "https://p", {"k": [1, 2]}), "s")

    assert parsed.predicate_type == "https://p"
    assert parsed.subjects == subjects
    assert parsed.predicate == {"k": [1, 2]}


def test_hex_case_is_normalised() -> None:
    payload = _statement(subject=[{"name": "m", "digest": {"sha256": "AB" * 32}}])
    assert parse_statement(payload, "s").subjects[0].get("sha256") == SHA


def test_predicate_may_be_absent() -> None:
    assert parse_statement(_statement(predicate=_DROP), "s").predicate == {}


def _invalid_cases() -> list[tuple[str, bytes]]:
    entry = {"name": "m", "digest": {"sha256": SHA}}
    return [
        ("garbage", b"not json"),
        ("truncated", _statement()[:-7]),
        ("not utf-8", b'{"_type": "\xff"}'),
        ("array", b"[]"),
        ("string", b'"statement"'),
        ("null", b"null"),
        ("no _type", _statement(_type=_DROP)),
        ("v0.1 _type", _statement(_type="https://in-toto.io/Statement/v0.1")),
        ("other _type", _statement(_type="https://in-toto.io/Statement/v2")),
        ("_type not str", _statement(_type=1)),
        ("no subject", _statement(subject=_DROP)),
        ("empty subject", _statement(subject=[])),
        ("subject object", _statement(subject=entry)),
        ("subject entry str", _statement(subject=["m"])),
        ("no name", _statement(subject=[{"digest": {"sha256": SHA}}])),
        ("name not str", _statement(subject=[{"name": 3, "digest": {"sha256": SHA}}])),
        ("empty name", _statement(subject=[{"name": "", "digest": {"sha256": SHA}}])),
        ("no digest", _statement(subject=[{"name": "m"}])),
        ("digest list", _statement(subject=[{"name": "m", "digest": [SHA]}])),
        ("empty digest", _statement(subject=[{"name": "m", "digest": {}}])),
        ("digest int", _statement(subject=[{"name": "m", "digest": {"sha256": 5}}])),
        ("digest not hex", _statement(subject=[{"name": "m", "digest": {"sha256": "xyz"}}])),
        ("digest empty", _statement(subject=[{"name": "m", "digest": {"sha256": ""}}])),
        ("digest newline", _statement(subject=[{"name": "a\nb", "digest": {"sha256": "g\n"}}])),
        ("no predicateType", _statement(predicateType=_DROP)),
        ("predicateType int", _statement(predicateType=1)),
        ("predicate list", _statement(predicate=[])),
        ("NaN", _statement(predicate=_DROP)[:-1] + b', "predicate": {"x": NaN}}'),
        ("deep", b"[" * 100_000 + b"]" * 100_000),
        (
            "duplicate _type",
            b'{"_type": "https://in-toto.io/Statement/v0.1", "_type": "'
            + STATEMENT_TYPE_V1.encode()
            + b'", "subject": [{"name": "m", "digest": {"sha256": "'
            + SHA.encode()
            + b'"}}], "predicateType": "p"}',
        ),
        (
            "duplicate digest algorithm",
            _statement(subject=_DROP, predicateType=_DROP)[:-1]
            + b', "subject": [{"name": "m", "digest": {"sha256": "'
            + SHA.encode()
            + b'", "sha256": "'
            + ("cd" * 32).encode()
            + b'"}}], "predicateType": "p"}',
        ),
        (
            "duplicate predicate",
            _statement()[:-1] + b', "predicate": {"other": true}}',
        ),
    ]


@pytest.mark.parametrize(
    ("case", "payload"), _invalid_cases(), ids=[c for c, _ in _invalid_cases()]
)
def test_malformed_statements(case: str, payload: bytes) -> None:
    with pytest.raises(BundleError) as info:
        parse_statement(payload, "bundle.sig")
    assert_one_line(info.value)
    assert str(info.value).startswith("bundle.sig: ")


def test_duplicate_key_message_names_the_key() -> None:
    with pytest.raises(BundleError, match="duplicate JSON key '_type'"):
        parse_statement(b'{"_type": 1, "_type": 2}', "s")
