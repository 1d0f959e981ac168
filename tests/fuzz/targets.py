"""Fuzz targets: one function of bytes per parser of attacker-controlled input.

Each target calls the parser's real entry point and accepts only what the parser documents:
a ``ChainguardError`` subclass (one line, an exit code), or the parser's documented finding
(``GgufError``, a ``PickleAnalysis`` with ``error`` set, a ``LogCheck`` that is broken). Any
other exception escaping a target is a crash; a differential target raises
``Disagreement`` when two readers of the same bytes do not agree.

Importable without atheris: ``run.py`` instruments and drives these; ``test_fuzz_corpus.py``
replays the seed corpora through them under plain pytest.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainguard.errors import ChainguardError

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
FIXTURES = HERE.parent.parent / "fixtures"


class Disagreement(AssertionError):
    """Two readers of the same bytes returned different answers (a differential finding)."""


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    max_len: int  # libFuzzer -max_len: big enough for the seeds that matter
    what: str


@functools.cache
def scratch() -> Path:
    """A private directory for the parsers that read a path (removed at exit)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="chainguard-fuzz-", dir=base))
    atexit.register(shutil.rmtree, path, True)
    return path


def _file(name: str, data: bytes) -> Path:
    path = scratch() / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


@functools.cache
def _signing_key() -> Any:
    from chainguard.trust.keys import load_private_key

    return load_private_key(FIXTURES / "keys" / "release.key", None)


# --- signed SBOM: the strict and streaming readers ----------------------------------------------


def sbom_read(data: bytes) -> None:
    from chainguard.sbom.read import read_sbom

    with suppress(ChainguardError):
        read_sbom(data, "fuzz.cdx.json")


def _expected_state(predicate_type: str, predicate: dict[str, object]) -> object:
    from chainguard.sbom.read import read_sbom_document

    return (predicate_type, read_sbom_document(predicate, "0" * 64, "fuzz (signed SBOM)"))


def _outcome(read: Callable[[], object]) -> object:
    """What one reader made of the bytes: its result, or "refused" (a documented error)."""
    try:
        return read()
    except ChainguardError:
        return "refused"


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def sbom_differential(data: bytes) -> None:
    """The signed payload (an in-toto statement over a CycloneDX SBOM) read three ways: the
    strict whole-document reader (plain strict JSON, every file a dict), the packed reader
    verify uses for a payload held whole, and the streaming reader of large bundles
    (trust/stream.py), fed in pieces whose boundaries fall anywhere. Each must give the same
    expected state, or refuse."""
    from chainguard._strictjson import loads_strict
    from chainguard.errors import BundleError
    from chainguard.trust import statement as st

    def strict() -> object:
        parsed = st._statement(loads_strict(data, "fuzz: statement", BundleError), "fuzz")
        return _expected_state(parsed.predicate_type, parsed.predicate)

    def packed() -> object:
        parsed = st.parse_statement(data, "fuzz")
        return _expected_state(parsed.predicate_type, parsed.predicate)

    def streamed(size: int) -> object:
        parsed = st.parse_statement_stream(_chunks(data, size), "fuzz", None, lambda: data)
        return _expected_state(parsed.predicate_type, parsed.predicate)

    reference = _outcome(strict)
    for name, other in (
        ("packed", _outcome(packed)),
        ("streamed in 1 piece", _outcome(lambda: streamed(max(len(data), 1)))),
        ("streamed in small pieces", _outcome(lambda: streamed(1 + len(data) % 61))),
    ):
        if other != reference:
            raise Disagreement(f"strict reader: {reference!r:.300}; {name}: {other!r:.300}")


def _verified(verified: Any) -> object:
    from chainguard.trust.statement import statement_of

    statement = statement_of(verified, "fuzz.sigstore.json")
    state = _outcome(lambda: _expected_state(statement.predicate_type, statement.predicate))
    return (verified.predicate_type, verified.subjects, verified.signers, state)


def bundle_stream(data: bytes) -> None:
    """A key-signed bundle file verified by trust/stream.py (two passes, the payload never
    held; used from 64 MB on, any size here) and whole (bundle.py): where the streaming
    reader takes the file, both give the same signers, subjects and expected state, or both
    refuse. (It may decline a file, returning None: verify then reads it whole.)"""
    from chainguard.trust.bundle import read_bundle, verify_key_bundle
    from chainguard.trust.stream import verify_key_bundle_streamed

    key = _signing_key().trusted_key
    path = _file("bundle.sigstore.json", data)
    streamed = _outcome(
        lambda: verify_key_bundle_streamed(path, [key], source="fuzz.sigstore.json")
    )
    if streamed is None:
        return
    if streamed != "refused":
        streamed = _verified(streamed)
    whole = _outcome(
        lambda: _verified(
            verify_key_bundle(
                read_bundle(data, "fuzz.sigstore.json"), [key], source="fuzz.sigstore.json"
            )
        )
    )
    if streamed != whole:
        raise Disagreement(f"whole bundle: {whole!r:.300}; streamed: {streamed!r:.300}")


def bundle(data: bytes) -> None:
    """A Sigstore bundle / DSSE envelope, then its signature checked against a trusted key."""
    from chainguard.trust import dsse
    from chainguard.trust.bundle import read_bundle, verify_key_bundle

    key = _signing_key().trusted_key
    try:
        parsed = read_bundle(data, "fuzz.sigstore.json")
    except ChainguardError:
        return
    if parsed.envelope is not None:
        dsse.verify(parsed.envelope, [key])
    with suppress(ChainguardError):
        verify_key_bundle(parsed, [key], source="fuzz.sigstore.json")


# --- configuration and lockfiles ----------------------------------------------------------------


def config(data: bytes) -> None:
    from chainguard.config import load_config

    with suppress(ChainguardError):
        load_config(_file("chainguard.toml", data))


def requirements(data: bytes) -> None:
    from chainguard.collectors.requirements import collect_requirements

    with suppress(ChainguardError):
        collect_requirements(_file("requirements.txt", data))


def _lock(parse_name: str, file_name: str, data: bytes) -> None:
    from chainguard.collectors import deps

    module = {
        "pylock": "chainguard.collectors.pylock",
        "uvlock": "chainguard.collectors.uvlock",
        "poetrylock": "chainguard.collectors.poetrylock",
    }[parse_name]
    import importlib

    parse = getattr(importlib.import_module(module), f"parse_{parse_name}")
    with suppress(ChainguardError):
        parse(data, Path(file_name))
    with suppress(ChainguardError):
        deps.detect_lock_kind(data, Path(file_name))


def pylock(data: bytes) -> None:
    _lock("pylock", "pylock.toml", data)


def uvlock(data: bytes) -> None:
    _lock("uvlock", "uv.lock", data)


def poetrylock(data: bytes) -> None:
    _lock("poetrylock", "poetry.lock", data)


def record(data: bytes) -> None:
    from chainguard.collectors.env_record import parse_record

    with suppress(ChainguardError):
        parse_record(data, "pkg-1.0.dist-info/RECORD")


def metadata(data: bytes) -> None:
    from chainguard.collectors.environment import _name_version

    with suppress(ChainguardError):
        _name_version(data, "pkg-1.0.dist-info/METADATA")


# --- model headers and the pickle front end -----------------------------------------------------


def safetensors(data: bytes) -> None:
    from chainguard.collectors.safetensors import read_header

    path = _file("model.safetensors", data)
    for strict in (False, True):
        with suppress(ChainguardError):
            read_header(path, strict=strict)


def gguf(data: bytes) -> None:
    from chainguard.formats.gguf import GgufError, read_gguf

    try:
        info = read_gguf(_file("model.gguf", data))
    except GgufError:  # documented: a malformed-artifact finding
        return
    if info.chat_template is not None:
        from chainguard.formats.gguf import template_risks

        template_risks(info.chat_template)


def pickle_front_end(data: bytes) -> None:
    """What ``sbom build`` and ``scan`` do with a file: detect its format from the head, then
    analyse the pickles in it. Never raises: an unanalysable file is a finding."""
    from chainguard.formats.detect import detect_format
    from chainguard.formats.pickles import analyse_file, analyse_stream

    fmt = detect_format(data[:4096], len(data))
    analyse_file(_file("model.bin", data), fmt)
    analyse_stream(data, "fuzz.pkl")


def detect(data: bytes) -> None:
    from chainguard.formats.detect import (
        TEXTUAL,
        detect_format,
        detect_structured,
        npy_header_has_objects,
        zip_member_names,
    )

    for size in (len(data), len(data) + 1):  # the whole file, and a head cut short
        fmt = detect_format(data, size)
        # differential: what scan detects without the text pass (chainguard scan's workers)
        if detect_structured(data, size) != (None if fmt in TEXTUAL else fmt):
            raise AssertionError(f"detect_structured disagrees with detect_format ({fmt})")
    npy_header_has_objects(data)
    zip_member_names(data)


# --- claims, advisories -------------------------------------------------------------------------


@functools.cache
def _measured() -> Any:
    from chainguard.models import Measured
    from chainguard.sbom.read import read_sbom_file

    _, state = read_sbom_file(FIXTURES / "release" / "tiny-bert.cdx.json")
    return Measured(command="verify deployment", state=state)


def claim(data: bytes) -> None:
    from chainguard._strictjson import loads_strict
    from chainguard.claims import compare_claim, parse_claim
    from chainguard.errors import ClaimError

    try:
        parsed = parse_claim(loads_strict(data, "claim.json", ClaimError), "claim.json")
    except ChainguardError:
        return
    compare_claim(parsed, _measured(), "claim.json")


def vex(data: bytes) -> None:
    from chainguard.advisories.check import applicable
    from chainguard.advisories.vex import parse_vex

    try:
        statements = parse_vex(data, "fuzz.vex.json")
    except ChainguardError:
        return
    for version in ("1.0", "2.0.0rc1", "0!1.0.post1"):
        applicable(statements, version)


def osv(data: bytes) -> None:
    from chainguard.advisories.check import vulnerabilities_by_package
    from chainguard.advisories.osv import parse_record

    try:
        advisory = parse_record(data, "fuzz-osv.json")
    except ChainguardError:
        return
    if advisory is not None:
        for package, vulnerabilities in vulnerabilities_by_package([advisory]).items():
            for vulnerability in vulnerabilities:
                for version in ("0", "1.0", "2.0.0rc1", "1!2.post3.dev4", "not a version"):
                    vulnerability.hit(package, version)


def osv_zip(data: bytes) -> None:
    """An advisory mirror as a zip (the OSV PyPI export's shape), read whole."""
    from chainguard.advisories.osv import Limits, read_advisories

    with suppress(ChainguardError):
        read_advisories(_file("osv.zip", data), Limits(record_bytes=64 * 1024, records=64))


# --- the attestation log and the hash cache -----------------------------------------------------


_PART = b"\n\0--\0\n"


def attest_log(data: bytes) -> None:
    """A log row: ``entry``, or ``entry <sep> signature <sep> attestation`` as stored. A lone
    entry is signed with the host key (so the checks after the signature are reached); the
    attestation defaults to the entry. verify_log reports a broken chain, never raises."""
    from chainguard.api.attestation import sign_bundle
    from chainguard.attest.log import LOG_ENTRY_TYPE, StoredEntry, _finding_keys, verify_log

    key = _signing_key()
    parts = data.split(_PART)
    entry = parts[0]
    signature = parts[1] if len(parts) > 1 else sign_bundle(entry, LOG_ENTRY_TYPE, key)
    attestation = parts[2] if len(parts) > 2 else entry
    rows = [StoredEntry(1, entry, signature, attestation), StoredEntry(2, entry, signature, b"")]
    verify_log(rows, key.trusted_key, "attest.db")
    with suppress(ChainguardError):
        _finding_keys(entry, Path("attest.db"))


@functools.cache
def _hash_cache() -> Any:
    from chainguard.attest.cache import HashCache

    return HashCache(scratch() / "hash-cache.db", b"k" * 32, 3600.0, 0.0, now=1e9)


def _row_value(data: bytes, i: int) -> tuple[object, int]:
    """One SQLite value from the bytes: its type from a tag byte, as a tampered cache may
    hold any type in any column (SQLite's types are per value, not per column)."""
    if i >= len(data):
        return None, i
    tag, i = data[i] % 6, i + 1
    size = data[i] if i < len(data) else 0
    body, i = data[i + 1 : i + 1 + size], i + 1 + size
    match tag:
        case 0:
            return None, i
        case 1:
            return int.from_bytes(body[:8], "little", signed=True), i
        case 2:
            return float(len(body)) / 3.0, i
        case 3:
            return body.decode("utf-8", "replace"), i
        case 4:
            return bytes(body), i
        case _:
            return _RawText(body), i


class _RawText(bytes):
    """TEXT that need not be UTF-8 (stored with CAST(? AS TEXT), as an edit may)."""


def hash_cache(data: bytes) -> None:
    """A tampered row of ``hash-cache.db`` (any type in any column, a MAC or not) looked up
    as attest does. A row that does not authenticate is reported, never trusted or fatal."""
    cache = _hash_cache()
    path = str(scratch() / "f")
    st = os.stat(_file("f", b"x"))
    values: list[object] = []
    i = 1
    for _ in range(11):
        value, i = _row_value(data, i)
        # (NULL only where the schema allows it: sha256, blake3, format)
        values.append("" if value is None and len(values) not in (5, 6, 8) else value)
    if data[:1] and data[0] & 1:  # a row as the key holder wrote it: values taken as given
        values[10] = cache._mac("file", path, "s", *values[:10])
    db: sqlite3.Connection = cache._db
    db.execute("DELETE FROM files")
    marks = ", ".join("CAST(? AS TEXT)" if isinstance(v, _RawText) else "?" for v in values)
    db.execute(f"INSERT INTO files VALUES (?, 's', {marks})", (path, *values))
    tree = cache.tree(scratch())
    with suppress(ChainguardError):
        tree.lookup(path, "s", st)
    cache.coverage()
    cache.trees.clear()


# --- /proc and the Hub ----------------------------------------------------------------------------


def procfs_maps(data: bytes) -> None:
    from chainguard.collectors.procfs import parse_maps

    with suppress(ChainguardError):
        parse_maps(data, "/proc/1/maps")


def hub(data: bytes) -> None:
    """The Hub's answer to ``model_info(files_metadata=True)``, built as huggingface_hub builds
    it (``ModelInfo(**response.json())``) inside the same error wrapper, then checked."""
    from chainguard.collectors.hfhub import HubReference, _hub_call, hub_listing

    ref = HubReference("model", "org/name", "main")

    def answer(_api: object) -> object:
        from huggingface_hub.hf_api import ModelInfo

        return ModelInfo(**json.loads(data))

    with suppress(ChainguardError):
        info = _hub_call("hf://org/name", ref, answer)
        hub_listing("hf://org/name", ref, info, lambda _: False, 1024 * 1024)


def fleet_artifact(data: bytes) -> None:
    """What a registry serves for one attestation, read as ``fleet status`` reads it
    (fleet/status.py): the manifest, then the bundle it names, verified under an enrolled key.
    The two halves are split at the first NUL byte."""
    from chainguard.fleet.status import Untrusted, bundle_of_manifest, verify_attestation

    manifest, _, bundle = data.partition(b"\0")
    with suppress(Untrusted):
        bundle_of_manifest(manifest)
    with suppress(Untrusted):
        verify_attestation("alpha", _signing_key().trusted_key, "alpha_20260101T000000Z_1", bundle)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("sbom_read", sbom_read, 256 * 1024, "sbom/read.py read_sbom"),
        Target(
            "sbom_differential",
            sbom_differential,
            256 * 1024,
            "trust/statement.py strict vs packed vs streamed, then sbom/read.py",
        ),
        Target("bundle", bundle, 128 * 1024, "trust/bundle.py read_bundle, dsse.verify"),
        Target(
            "bundle_stream",
            bundle_stream,
            128 * 1024,
            "trust/stream.py verify_key_bundle_streamed vs bundle.py verify_key_bundle",
        ),
        Target("config", config, 64 * 1024, "config.py load_config"),
        Target("requirements", requirements, 64 * 1024, "collectors/requirements.py"),
        Target("pylock", pylock, 64 * 1024, "collectors/pylock.py, deps.detect_lock_kind"),
        Target("uvlock", uvlock, 64 * 1024, "collectors/uvlock.py, deps.detect_lock_kind"),
        Target("poetrylock", poetrylock, 64 * 1024, "collectors/poetrylock.py"),
        Target("record", record, 64 * 1024, "collectors/env_record.py parse_record"),
        Target("metadata", metadata, 16 * 1024, "collectors/environment.py METADATA"),
        Target("safetensors", safetensors, 64 * 1024, "collectors/safetensors.py read_header"),
        Target("gguf", gguf, 64 * 1024, "formats/gguf.py read_gguf"),
        Target("pickle", pickle_front_end, 64 * 1024, "formats/detect.py + formats/pickles.py"),
        Target("detect", detect, 16 * 1024, "formats/detect.py"),
        Target("claim", claim, 32 * 1024, "claims.py parse_claim, compare_claim"),
        Target("vex", vex, 32 * 1024, "advisories/vex.py parse_vex"),
        Target("osv", osv, 32 * 1024, "advisories/osv.py parse_record, check.py"),
        Target("osv_zip", osv_zip, 64 * 1024, "advisories/osv.py read_advisories of a zip"),
        Target("attest_log", attest_log, 32 * 1024, "attest/log.py verify_log"),
        Target("hash_cache", hash_cache, 4 * 1024, "attest/cache.py lookup of a tampered row"),
        Target("procfs_maps", procfs_maps, 16 * 1024, "collectors/procfs.py parse_maps"),
        Target("hub", hub, 32 * 1024, "collectors/hfhub.py hub_listing of a Hub answer"),
        Target(
            "fleet_artifact",
            fleet_artifact,
            64 * 1024,
            "fleet/status.py bundle_of_manifest, verify_attestation",
        ),
    )
}


def corpus_files(name: str) -> list[Path]:
    directory = CORPUS / name
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
