"""The shape of one file entry in the SBOM: the one module that knows it.

Every model and dataset component lists its files, one entry each::

    {"bom-ref": "<component bom-ref>/<path>",
     "hashes": [{"alg": "BLAKE3", "content": "<hex>"}, {"alg": "SHA-256", "content": "<hex>"}],
     "name": "<path>",
     "properties": [{"name": "chainguard:size", "value": "<decimal>"}, ...],
     "type": "file"}

keys in this order (cyclonedx sorts them, and so does the signed statement), hashes sorted by
algorithm (BLAKE3 only when recorded), properties sorted by name. ``entry`` builds that object
and ``FACTS`` says which properties record what about a file (one row per ``FileDigest`` fact:
its properties written, and read back with checks). Every other form is derived from these two:

- ``file_dict`` / ``render_indented``: what ``sbom build`` writes (sbom/build.py);
- ``file_component``: the same entry through cyclonedx's model (build's cross-check);
- ``read_facts``: a parsed entry's properties back into ``FileDigest`` fields (sbom/read.py);
- a *plain* file is one with a SHA-256, a size and at most a format (``FORMAT``), which is
  what datasets hold by the 100,000 (an executable file, which records its ``MODE``, is not):
  ``render_element`` writes one as the signed statement holds it (compact JSON; the hashing
  workers render whole directories so), ``plain_file_pattern`` recognises that text
  (sbom/packed.py) and ``plain_file_parser`` its parsed form (sbom/read.py). The first two are
  cut from ``entry``'s compact text, so they cannot drift from it.

Hashing worker processes import this module (chainguard/_hashworker.py): fresh interpreters
that start in ~10 ms, where ``re``, ``typing`` or chainguard's models would cost several times
that. So nothing is imported here at module level; the functions that need ``re``, the models,
the vocabulary's checks or cyclonedx import them.
"""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing (see above; mypy knows the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from re import Pattern
    from typing import Any, Final

    from cyclonedx.model.component import Component

    from chainguard.models import FileDigest, SafetensorsInfo

    # (property name, value), as an entry lists them
    Pairs = list[tuple[str, str]]
    # FileDigest keyword arguments read so far (read_facts)
    Fields = dict[str, Any]

# --- the vocabulary of a file entry --------------------------------------------------------------

BOM_REF: Final = "bom-ref"
HASHES: Final = "hashes"
NAME: Final = "name"
PROPERTIES: Final = "properties"
TYPE: Final = "type"
FILE: Final = "file"  # the value of "type"
ALG: Final = "alg"
CONTENT: Final = "content"
VALUE: Final = "value"  # a property is {"name": ..., "value": ...}

SHA256: Final = "SHA-256"
BLAKE3: Final = "BLAKE3"

SIZE: Final = "chainguard:size"
SHARD_SIZE: Final = "chainguard:shard-size"
SHARDS: Final = "chainguard:shards"
ST_TENSOR_COUNT: Final = "chainguard:safetensors:tensor-count"
ST_DTYPES: Final = "chainguard:safetensors:dtypes"
ST_PARAMETERS: Final = "chainguard:safetensors:parameters"
ST_METADATA_PREFIX: Final = "chainguard:safetensors:metadata:"
# Parquet footer facts: row count, and the top-level columns as "name:TYPE" joined by ","
# (TYPE as in models.ParquetInfo; "%", ",", ":" and control characters in a name are written
# as %XX of their UTF-8 bytes so the list always splits back unambiguously).
PQ_ROWS: Final = "chainguard:parquet:rows"
PQ_COLUMNS: Final = "chainguard:parquet:columns"
# What the file's bytes are (chainguard/formats/detect.py's vocabulary: "safetensors",
# "pickle", ...). Absent in SBOMs written before formats were recorded: then nothing is compared.
FORMAT: Final = "chainguard:format"
# The file's permission bits (st_mode & 0o7777, 4 octal digits: "0755"), recorded only for a
# file with one of MODE_BITS set: setuid, setgid, sticky or any execute bit, what changes what
# the file can do. Read and write bits follow the umask of whoever copied the tree, so they are
# neither compared nor a reason to record the mode; an ordinary file has no such property and
# stays plain. Absent: none of MODE_BITS (SBOMs written before modes were recorded say the same,
# and have no marker to tell them apart: verify compares anyway, docs/formats.md).
MODE: Final = "chainguard:mode"
MODE_BITS: Final = 0o7111
# A format id as a property value: short, lowercase, no character JSON would escape.
_FORMAT_ID = "[a-z0-9][a-z0-9._+-]{0,39}"


def bom_ref(component_ref: str, path: str) -> str:
    return f"{component_ref}/{path}"


def entry(ref: str, path: str, hashes: Sequence[tuple[str, str]], pairs: Pairs) -> dict[str, Any]:
    """A file entry: ``ref`` its bom-ref, ``hashes`` (alg, hex) and ``pairs`` in any order."""
    return {
        BOM_REF: ref,
        HASHES: [{ALG: alg, CONTENT: content} for alg, content in sorted(hashes)],
        NAME: path,
        PROPERTIES: [{NAME: name, VALUE: value} for name, value in sorted(pairs)],
        TYPE: FILE,
    }


# --- what is recorded about a file ---------------------------------------------------------------


class Fact:
    """One FileDigest fact as properties: ``write(f)`` gives its (name, value) pairs (none when
    the file has no such fact); ``read(props, fields, where)`` reads them back from an entry's
    chainguard: properties by name, with every check, into ``fields`` (FileDigest keyword
    arguments; earlier facts' are there), raising vocabulary.Malformed."""

    __slots__ = ("read", "write")

    def __init__(
        self,
        write: Callable[[FileDigest], Pairs],
        read: Callable[[dict[str, str], Fields, str], None],
    ) -> None:
        self.write = write
        self.read = read


def _write_size(f: FileDigest) -> Pairs:
    return [(SIZE, str(f.size))]


def _read_size(props: dict[str, str], fields: Fields, where: str) -> None:
    from chainguard.sbom import vocabulary as v

    if SIZE not in props:
        raise v.Malformed(f"{where}: {SIZE} property missing")
    fields["size"] = v.checked_decimal(props[SIZE], where, SIZE)


def _write_shards(f: FileDigest) -> Pairs:
    return [(SHARD_SIZE, str(f.shard_size)), (SHARDS, ",".join(f.shards))] if f.sharded else []


def _read_shards(props: dict[str, str], fields: Fields, where: str) -> None:
    from chainguard.sbom import vocabulary as v

    if SHARD_SIZE not in props and SHARDS not in props:
        return  # the default shard size, no shards: models.FileDigest's defaults
    if SHARD_SIZE not in props or SHARDS not in props:
        raise v.Malformed(f"{where}: {SHARD_SIZE} and {SHARDS} must appear together")
    size = fields["size"]
    shard_size = v.checked_decimal(props[SHARD_SIZE], where, SHARD_SIZE)
    if shard_size == 0:
        raise v.Malformed(f"{where}: {SHARD_SIZE} must be positive")
    if size <= shard_size:
        raise v.Malformed(f"{where}: shards recorded for a file no larger than one shard")
    shards = tuple(props[SHARDS].split(","))
    expected = -(-size // shard_size)
    if len(shards) != expected:
        raise v.Malformed(
            f"{where}: {len(shards)} shard digests, but {size} bytes make {expected} shards"
        )
    for s in shards:
        v.checked_digest(s, where, "each shard digest")
    fields["shard_size"] = shard_size
    fields["shards"] = shards


_ST_REQUIRED = (ST_TENSOR_COUNT, ST_DTYPES, ST_PARAMETERS)


def _write_safetensors(f: FileDigest) -> Pairs:
    st: SafetensorsInfo | None = f.safetensors
    if st is None:
        return []
    pairs = [
        (ST_TENSOR_COUNT, str(st.tensor_count)),
        (ST_DTYPES, ",".join(st.dtypes)),
        (ST_PARAMETERS, str(st.parameters)),
    ]
    pairs += [(f"{ST_METADATA_PREFIX}{key}", value) for key, value in st.metadata]
    return pairs


def _read_safetensors(props: dict[str, str], fields: Fields, where: str) -> None:
    from chainguard.models import SafetensorsInfo
    from chainguard.sbom import vocabulary as v

    metadata = tuple(
        sorted(
            (name.removeprefix(ST_METADATA_PREFIX), value)
            for name, value in props.items()
            if name.startswith(ST_METADATA_PREFIX)
        )
    )
    present = [p for p in _ST_REQUIRED if p in props]
    if not present and not metadata:
        return
    if len(present) != len(_ST_REQUIRED):
        missing = ", ".join(p for p in _ST_REQUIRED if p not in props)
        raise v.Malformed(f"{where}: incomplete safetensors properties (missing {missing})")
    dtypes = tuple(props[ST_DTYPES].split(",")) if props[ST_DTYPES] else ()
    if not all(dtypes):
        raise v.Malformed(f"{where}: {ST_DTYPES} has an empty entry")
    fields["safetensors"] = SafetensorsInfo(
        tensor_count=v.checked_decimal(props[ST_TENSOR_COUNT], where, ST_TENSOR_COUNT),
        dtypes=dtypes,
        parameters=v.checked_decimal(props[ST_PARAMETERS], where, ST_PARAMETERS),
        metadata=metadata,
    )


def _write_parquet(f: FileDigest) -> Pairs:
    if f.parquet is None:
        return []
    from chainguard.sbom.vocabulary import format_parquet_columns

    return [(PQ_ROWS, str(f.parquet.rows)), (PQ_COLUMNS, format_parquet_columns(f.parquet.columns))]


def _read_parquet(props: dict[str, str], fields: Fields, where: str) -> None:
    from chainguard.models import ParquetInfo
    from chainguard.sbom import vocabulary as v

    if PQ_ROWS not in props and PQ_COLUMNS not in props:
        return
    if PQ_ROWS not in props or PQ_COLUMNS not in props:
        raise v.Malformed(f"{where}: {PQ_ROWS} and {PQ_COLUMNS} must appear together")
    columns = v.parse_parquet_columns(props[PQ_COLUMNS])
    if columns is None:
        raise v.Malformed(f"{where}: {PQ_COLUMNS} is not a list of name:TYPE")
    rows = v.checked_decimal(props[PQ_ROWS], where, PQ_ROWS)
    fields["parquet"] = ParquetInfo(rows=rows, columns=columns)


def _write_format(f: FileDigest) -> Pairs:
    return [] if f.format is None else [(FORMAT, f.format)]


def is_format_id(value: str) -> bool:
    import re

    return re.fullmatch(_FORMAT_ID, value) is not None


def _read_format(props: dict[str, str], fields: Fields, where: str) -> None:
    from chainguard.sbom import vocabulary as v

    if FORMAT not in props:
        return  # an SBOM written before formats were recorded
    if not is_format_id(props[FORMAT]):
        raise v.Malformed(f"{where}: {FORMAT} is not a format id")
    fields["format"] = props[FORMAT]


def recorded_mode(st_mode: int) -> int:
    """What FileDigest.mode holds for a file of ``st_mode``: its permission bits when one of
    MODE_BITS is set, else 0 (an ordinary file, nothing recorded)."""
    return st_mode & 0o7777 if st_mode & MODE_BITS else 0


def _write_mode(f: FileDigest) -> Pairs:
    return [(MODE, f"{f.mode:04o}")] if f.mode & MODE_BITS else []


def _read_mode(props: dict[str, str], fields: Fields, where: str) -> None:
    from chainguard.sbom import vocabulary as v

    if MODE not in props:
        return  # none of MODE_BITS (models.FileDigest's default)
    value = props[MODE]
    # one spelling only, as _write_mode writes it: a plain file has no mode property at all
    if len(value) != 4 or not all(c in "01234567" for c in value):
        raise v.Malformed(f"{where}: {MODE} is not 4 octal digits")
    mode = int(value, 8)
    if not mode & MODE_BITS:
        raise v.Malformed(f"{where}: {MODE} {value} has no setuid, setgid, sticky or execute bit")
    fields["mode"] = mode


# Read in this order (a file's size comes first: the shards are checked against it).
FACTS: Final = (
    Fact(_write_size, _read_size),
    Fact(_write_shards, _read_shards),
    Fact(_write_safetensors, _read_safetensors),
    Fact(_write_parquet, _read_parquet),
    Fact(_write_format, _read_format),
    Fact(_write_mode, _read_mode),
)


_WRITERS = tuple(fact.write for fact in FACTS)


def file_pairs(f: FileDigest) -> Pairs:
    """The properties recording ``f``, in FACTS order."""
    pairs: Pairs = []
    for write in _WRITERS:
        pairs += write(f)
    return pairs


def file_hashes(f: FileDigest) -> list[tuple[str, str]]:
    assert f.sha256 is not None  # sbom/build.py checks every file first
    hashes = [(SHA256, f.sha256)]
    if f.blake3 is not None:
        hashes.append((BLAKE3, f.blake3))
    return hashes


def read_facts(props: dict[str, str], where: str) -> Fields:
    """FileDigest keyword arguments from an entry's chainguard: properties (each at most once),
    every FACTS row checked; raises vocabulary.Malformed."""
    fields: Fields = {}
    for fact in FACTS:
        fact.read(props, fields, where)
    return fields


# --- the forms sbom build writes -----------------------------------------------------------------


def file_dict(component_ref: str, f: FileDigest) -> dict[str, Any]:
    """``f``'s entry as a JSON object (what build validates and writes)."""
    return entry(bom_ref(component_ref, f.path), f.path, file_hashes(f), file_pairs(f))


def render_indented(d: dict[str, Any], quote: Callable[[str], str]) -> str:
    """json.dumps(d, indent=2, ensure_ascii=False) of an ``entry`` at the depth build writes
    entries (components[i].components[j]: 8 spaces), indent included; ``quote`` is json's
    string encoder. One f-string of pieces cut from entry's own rendering (below): this runs
    once per file, three times as fast as a general renderer."""
    hashes = ",\n".join(f"{_H0}{quote(h[ALG])}{_H1}{quote(h[CONTENT])}{_H2}" for h in d[HASHES])
    props = ",\n".join(f"{_R0}{quote(p[NAME])}{_R1}{quote(p[VALUE])}{_R2}" for p in d[PROPERTIES])
    return f"{_I0}{quote(d[BOM_REF])}{_I1}{hashes}{_I2}{quote(d[NAME])}{_I3}{props}{_I4}"


def file_component(component_ref: str, f: FileDigest) -> Component:
    """``f``'s entry as cyclonedx's model: its output is file_dict's (build's tests compare)."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component, ComponentType

    return Component(
        type=ComponentType(FILE),
        bom_ref=bom_ref(component_ref, f.path),
        name=f.path,
        hashes=[HashType(alg=HashAlgorithm(alg), content=c) for alg, c in file_hashes(f)],
        properties=[Property(name=name, value=value) for name, value in file_pairs(f)],
    )


# --- entry's text, cut at its variable parts -----------------------------------------------------
#
# render_indented and render_element write an entry as one f-string of constant pieces and
# values. The pieces are cut, when this module is imported, from an entry whose values are
# markers (which cannot occur in an entry's constant text: JSON escapes control characters),
# rendered as json.dumps would; the order of the values is checked there too. So the pieces
# follow entry() and cannot drift from it.


def _marked(mark: str) -> str:
    return f"\x00{mark}\x00"


def _cut(text: str, marks: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the constant pieces of ``text`` between the markers, which marker comes where)."""
    found = sorted((text.index(m), m) for m in marks)
    pieces, start = [], 0
    for at, mark in found:
        pieces.append(text[start:at])
        start = at + len(mark)
    pieces.append(text[start:])
    return pieces, [mark for _, mark in found]


def _check_order(found: list[str], expected: list[str]) -> None:
    if found != expected:  # pragma: no cover - a change to entry() that reorders its values
        raise AssertionError(f"fileshape: an entry's values now come as {found}")


def _compact(value: object) -> str:
    """json.dumps(value, separators=(",", ":"), ensure_ascii=False) for an entry of strings
    that need no escape (no json import: the workers run this once, when they start)."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ",".join(_compact(x) for x in value) + "]"
    assert isinstance(value, dict)
    return "{" + ",".join(f'"{k}":{_compact(x)}' for k, x in value.items()) + "}"


def _indented(value: object, pad: str) -> str:
    """json.dumps(value, indent=2, ensure_ascii=False), at indent ``pad``, for an entry of
    strings that need no escape."""
    if isinstance(value, str):
        return f'"{value}"'
    inner = pad + "  "
    if isinstance(value, list):
        items = ",\n".join(inner + _indented(x, inner) for x in value)
        return f"[\n{items}\n{pad}]" if value else "[]"
    assert isinstance(value, dict)
    fields = ",\n".join(f'{inner}"{k}": {_indented(x, inner)}' for k, x in value.items())
    return f"{{\n{fields}\n{pad}}}" if value else "{}"


def _indented_pieces() -> tuple[list[str], list[str], list[str]]:
    """render_indented's pieces: of an entry, of a hash, of a property (8, 12 spaces deep)."""
    ref, path, alg, content, name, value = map(_marked, "rpacnv")
    sample = entry(ref, path, [(alg, content)], [(name, value)])
    # quote() writes a value with its quotes: cut them too
    ref, path, alg, content, name, value = (
        f'"{m}"' for m in (ref, path, alg, content, name, value)
    )
    outer, item = " " * 8, " " * 12
    hash_text = item + _indented(sample[HASHES][0], item)
    prop_text = item + _indented(sample[PROPERTIES][0], item)
    hashes, props = _marked("H"), _marked("P")
    text = outer + _indented(sample, outer)
    text = text.replace(hash_text, hashes).replace(prop_text, props)
    entry_pieces, order = _cut(text, [ref, hashes, path, props])
    _check_order(order, [ref, hashes, path, props])
    hash_pieces, order = _cut(hash_text, [alg, content])
    _check_order(order, [alg, content])
    prop_pieces, order = _cut(prop_text, [name, value])
    _check_order(order, [name, value])
    return entry_pieces, hash_pieces, prop_pieces


(_I0, _I1, _I2, _I3, _I4), (_H0, _H1, _H2), (_R0, _R1, _R2) = _indented_pieces()


# --- plain files: the signed text, recognised, and parsed ----------------------------------------
#
# A plain file's entry as the signed statement holds it (compact), cut at its variable parts
# (the whole bom-ref is one). A plain file has a SHA-256, a size and, in SBOMs written since
# formats are recorded, a format.
_MARKS = {name: _marked(name) for name in ("bom-ref", "sha256", "path", "format", "size")}


def _plain_cut(with_format: bool) -> tuple[list[str], list[str]]:
    """(constant pieces, which part comes where) of a plain entry's signed text."""
    m = dict(_MARKS)
    pairs = [(SIZE, m["size"])]
    if with_format:
        pairs.append((FORMAT, m["format"]))
    else:
        del m["format"]
    text = _compact(entry(m["bom-ref"], m["path"], [(SHA256, m["sha256"])], pairs))
    pieces, order = _cut(text, list(m.values()))
    names = {mark: name for name, mark in m.items()}
    return pieces, [names[mark] for mark in order]


_PLAIN_PIECES, _PLAIN_ORDER = _plain_cut(with_format=False)
_check_order(_PLAIN_ORDER, ["bom-ref", "sha256", "path", "size"])  # render_element's order
_E0, _E1, _E2, _E3, _E4 = _PLAIN_PIECES
_FORMAT_PIECES, _FORMAT_ORDER = _plain_cut(with_format=True)
_check_order(_FORMAT_ORDER, ["bom-ref", "sha256", "path", "format", "size"])
_F3, _F4 = _FORMAT_PIECES[3:5]
if _FORMAT_PIECES[:3] + _FORMAT_PIECES[5:] != [_E0, _E1, _E2, _E4]:  # pragma: no cover
    raise AssertionError("fileshape: a plain entry's format is not just one more property")


def render_element(ref: str, path: str, size: int, sha256: str, fmt: str | None = None) -> str:
    """A plain file's entry as `chainguard sign` writes it into the in-toto statement (compact
    JSON, keys sorted; see sbom/packed.py), ``ref`` the component's bom-ref, for strings JSON
    writes as they stand (json_verbatim). An f-string: four times faster than str.format, and
    this runs once per file."""
    if fmt is None:
        return f"{_E0}{ref}/{path}{_E1}{sha256}{_E2}{path}{_E3}{size}{_E4}"
    return f"{_E0}{ref}/{path}{_E1}{sha256}{_E2}{path}{_F3}{fmt}{_F4}{size}{_E4}"


def plain_entry_head(component_ref: str) -> str:
    """How a plain entry of the component starts in signed text, up to the path in its bom-ref
    (which ends where PLAIN_AFTER_BOM_REF begins)."""
    return f"{_E0}{component_ref}/"


PLAIN_AFTER_BOM_REF: Final = _E1


def json_verbatim(text: str) -> bool:
    """True if json.dumps(text, ensure_ascii=False) is surely text between two quotes (no
    quote, backslash or control character; isprintable also refuses a few harmless characters,
    which then only forgo the fast path)."""
    return text.isprintable() and '"' not in text and "\\" not in text


# What each part of a plain entry may be, in signed text. String contents may not hold a quote,
# a backslash (so no escapes: the text is the value) or a control character (which strict JSON
# refuses); the digest is 64 lowercase hex digits and the size a canonical decimal of at most
# 18 digits (always below vocabulary.MAX_DECIMAL; a longer size is left to the general reader,
# which refuses one above it). Only the digest, path and size are captured (the bom-ref is not
# read: a plain entry means its path, size and digest).
_CHARS = r'[^"\\\x00-\x1f]*'
_PLAIN_PARTS = {
    "bom-ref": _CHARS,
    "sha256": "([0-9a-f]{64})",
    "path": f"({_CHARS})",
    "size": "(0|[1-9][0-9]{0,17})",
}


def plain_file_pattern() -> Pattern[str]:
    """A regular expression matching a plain entry in signed text followed by "," or "]";
    groups: SHA-256, path, format (None when not recorded), size, the separator. It accepts
    only what the strict JSON parser decodes to the same values."""
    import re

    # Between the path and the size: _E3 without a format, _F3 format _F4 with one. _E3 is
    # _F3 and _F4 with the format property cut out of their middle.
    common = next((i for i, (a, b) in enumerate(zip(_E3, _F3, strict=False)) if a != b), 0)
    before = _E3[:common]
    after = _E3[len(before) :]
    assert _F4.endswith(after) and before + after == _E3
    with_format = re.escape(_F3[len(before) :]) + f"({_FORMAT_ID})" + re.escape(_F4[: -len(after)])
    parts = [re.escape(_E0), _PLAIN_PARTS["bom-ref"], re.escape(_E1), _PLAIN_PARTS["sha256"]]
    parts += [re.escape(_E2), _PLAIN_PARTS["path"], re.escape(before), f"(?:{with_format})?"]
    parts += [re.escape(after), _PLAIN_PARTS["size"], re.escape(_E4)]
    return re.compile("".join(parts) + r"([,\]])")


def plain_file_parser() -> Callable[[dict[str, object]], FileDigest | None]:
    """The parse of a plain entry (a JSON object as decoded), checked in a few lines: one
    SHA-256 hash, one size property. It accepts exactly what the general reader (sbom/read.py)
    accepts for that shape, and makes the same FileDigest; anything else gives None, for the
    general reader. Datasets list 100,000s of such files; the general path costs ~40 us each."""
    from chainguard.models import FileDigest
    from chainguard.sbom.vocabulary import is_hex, is_text, parse_decimal

    def parse(node: dict[str, object]) -> FileDigest | None:
        hashes = node.get(HASHES)
        props = node.get(PROPERTIES)
        if not (
            node.get(TYPE) == FILE
            and type(hashes) is list
            and len(hashes) == 1
            and type(props) is list
            and 1 <= len(props) <= 2
        ):
            return None
        fmt: str | None = None
        if len(props) == 2:
            f = props[0]
            if type(f) is not dict or len(f) != 2 or f.get(NAME) != FORMAT:
                return None
            fmt = f.get(VALUE)
            if type(fmt) is not str or not is_format_id(fmt):
                return None
        h, p = hashes[0], props[-1]
        if type(h) is not dict or type(p) is not dict or len(h) != 2 or len(p) != 2:
            return None
        name, sha256, size = node.get(NAME), h.get(CONTENT), p.get(VALUE)
        if (
            h.get(ALG) != SHA256
            or p.get(NAME) != SIZE
            or type(name) is not str
            or type(sha256) is not str
            or type(size) is not str
            or not is_hex(sha256)
            or not is_text(name)
        ):
            return None
        n = parse_decimal(size)
        return None if n is None else FileDigest(name, n, sha256, format=fmt)

    return parse
