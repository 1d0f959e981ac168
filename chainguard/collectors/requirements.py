"""requirements.txt (pip, pip-compile, uv pip compile) → the dependencies it pins.

Read the way pip reads it, without installing or fetching anything:
- a line ending in a backslash continues on the next; ``#`` starts a comment at the start of a
  line or after whitespace;
- ``name==version`` is a pin; ``--hash=alg:hex`` options (any number, on continuation lines
  too) are its distribution hashes;
- ``; marker`` is recorded, and evaluated for the running interpreter only to say (in a note)
  which pins do not apply here;
- ``-r``/``--requirement`` includes another file, relative to the including file; a cycle or a
  missing file is an error. ``-c``/``--constraint`` files are noted, never treated as pins;
- ranged or bare requirements (``requests>=2``), ``name @ url``, bare paths and URLs and
  ``-e``/``--editable`` lines are reported as dependencies with no version and a
  ``chainguard:specifier`` or ``chainguard:locator`` property, never silently dropped;
- index and install options (``--index-url``, ``--no-binary`` …) are tolerated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from chainguard.collectors._deps import (
    canonical_name,
    decode_text,
    make_dependency,
    merge_duplicates,
    parse_hash,
    read_bounded,
)
from chainguard.errors import LockfileError
from chainguard.models import Dependency, ManifestKind, ObservedDependencies

KIND: ManifestKind = "requirements"
# A chain of includes deeper than this is a loop in disguise or a generated trap.
MAX_INCLUDE_DEPTH = 32
MAX_FILES = 1000

_COMMENT = re.compile(r"(^|\s+)#.*$")
_URL_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
# Options that take a value in the next token when not written --opt=value.
_GLOBAL_WITH_VALUE = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--only-binary",
    "--no-binary",
    "--use-feature",
    "--config-settings",
    "--global-option",
    "--install-option",
}
_GLOBAL_FLAGS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes"}
_PER_REQUIREMENT = {"--hash", "--config-settings", "--global-option", "--install-option"}


@dataclass(slots=True)
class _State:
    root: Path
    deps: list[Dependency] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_read: int = 0


def collect_requirements(path: Path) -> ObservedDependencies:
    """Every requirement of ``path`` and the files it includes."""
    state = _State(root=path)
    _read_file(path, state, chain=())
    deps = merge_duplicates(state.deps, str(path))
    return ObservedDependencies(
        kind=KIND,
        name=path.name,
        source=str(path),
        dependencies=deps,
        notes=tuple(state.notes),
        files_checked=state.files_read,
    )


def _identity(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path.absolute())


def _read_file(path: Path, state: _State, chain: tuple[str, ...]) -> None:
    state.files_read += 1
    if state.files_read > MAX_FILES:
        raise LockfileError(f"{state.root}: includes more than {MAX_FILES} files")
    data = read_bounded(path, "requirements file")
    _parse(decode_text(data, str(path)), path, state, (*chain, _identity(path)))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; a comment line ends a continuation (as pip does)."""
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        is_comment = _COMMENT.match(line) is not None
        if line.endswith("\\") and not is_comment:
            if not pending:
                first = number
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(" " + line if is_comment else line)
            result.append((first, "".join(pending)))
            pending = []
        else:
            result.append((number, line))
    if pending:
        result.append((first, "".join(pending)))
    return [(n, _COMMENT.sub("", line).strip()) for n, line in result]


def _parse(text: str, path: Path, state: _State, chain: tuple[str, ...]) -> None:
    for number, line in _logical_lines(text):
        if not line:
            continue
        where = f"{path}:{number}"
        if line.startswith("-"):
            _option_line(line, path, where, state, chain)
        else:
            _requirement_line(line, path, where, state, editable=False)


def _split_option(line: str) -> tuple[str, str]:
    """``-r file`` / ``-rfile`` / ``--requirement=file`` / ``--requirement file`` → (opt, value)."""
    if line.startswith("--"):
        head, sep, rest = line.partition("=")
        if sep and " " not in head and "\t" not in head:
            return head, rest.strip()
        parts = line.split(None, 1)
        return parts[0], parts[1].strip() if len(parts) > 1 else ""
    opt, rest = line[:2], line[2:]
    return opt, rest.strip().removeprefix("=").strip()


def _option_line(line: str, path: Path, where: str, state: _State, chain: tuple[str, ...]) -> None:
    opt, value = _split_option(line)
    if opt in ("-r", "--requirement"):
        _include(value, path, where, state, chain)
    elif opt in ("-c", "--constraint"):
        if not value:
            raise LockfileError(f"{where}: {opt} needs a file name")
        state.notes.append(
            f"{where}: constraints file {value} limits versions but adds no dependencies; "
            "it was not read"
        )
    elif opt in ("-e", "--editable"):
        if not value:
            raise LockfileError(f"{where}: {opt} needs a path or URL")
        _requirement_line(value, path, where, state, editable=True)
    elif opt == "--hash":
        raise LockfileError(f"{where}: --hash on its own line belongs to no requirement")
    elif opt in _GLOBAL_WITH_VALUE or opt in _GLOBAL_FLAGS:
        return  # where and how to install; what gets installed is pinned by the other lines
    else:
        state.notes.append(f"{where}: unknown option {opt} ignored")


def _include(value: str, path: Path, where: str, state: _State, chain: tuple[str, ...]) -> None:
    if not value:
        raise LockfileError(f"{where}: -r needs a file name")
    if _URL_SCHEME.match(value):
        raise LockfileError(f"{where}: included file {value} is remote; chainguard reads offline")
    if "\0" in value:
        raise LockfileError(f"{where}: included file name holds a NUL byte")
    try:
        target = Path(value).expanduser()
    except RuntimeError:  # ~name of no such user, or no home directory
        raise LockfileError(f"{where}: included file {value}: cannot expand ~") from None
    if not target.is_absolute():
        target = path.parent / target
    if len(chain) >= MAX_INCLUDE_DEPTH:
        raise LockfileError(f"{where}: includes nested more than {MAX_INCLUDE_DEPTH} deep")
    if _identity(target) in chain:
        raise LockfileError(f"{where}: including {value} makes a cycle of -r includes")
    try:
        if not target.is_file():
            what = "is not a file" if target.exists() else "not found"
            raise LockfileError(f"{where}: included file {value} {what}")
    except OSError as e:  # ENAMETOOLONG, ELOOP: is_file only hides "not found"
        raise LockfileError(f"{where}: included file {value[:100]}: {e.strerror}") from None
    _read_file(target, state, chain)


def _split_requirement(line: str) -> tuple[str, list[str]]:
    """The requirement text and its per-requirement option tokens (from the first ``-x``)."""
    tokens = line.split()
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:i]), tokens[i:]
    return line, []


def _hashes(options: list[str], where: str) -> list[str]:
    hashes: list[str] = []
    i = 0
    while i < len(options):
        token = options[i]
        opt, sep, value = token.partition("=")
        if opt not in _PER_REQUIREMENT:
            raise LockfileError(f"{where}: unknown option {opt} on a requirement line")
        if not sep:
            if i + 1 >= len(options):
                raise LockfileError(f"{where}: {opt} needs a value")
            value = options[i + 1]
            i += 1
        if opt == "--hash":
            hashes.append(parse_hash(value, where))
        i += 1
    return hashes


def _requirement_line(line: str, path: Path, where: str, state: _State, *, editable: bool) -> None:
    from packaging.markers import InvalidMarker, Marker
    from packaging.requirements import InvalidRequirement, Requirement

    text, options = _split_requirement(line)
    hashes = _hashes(options, where)
    if not text:
        raise LockfileError(f"{where}: options without a requirement")
    manifest = (KIND, state.root.name)
    source = str(path)
    if not editable and not _looks_like_location(text):
        try:
            req = Requirement(text)
        except InvalidRequirement as e:
            raise LockfileError(f"{where}: invalid requirement: {_first_line(e)}") from e
        name = canonical_name(req.name, where)
        marker = str(req.marker) if req.marker is not None else None
        _note_marker(req.marker, line, where, state)
        if req.url:
            dep = make_dependency(
                name,
                None,
                manifest=manifest,
                source=source,
                hashes=hashes,
                marker=marker,
                locator=_locator_for_url(req.url),
            )
            state.notes.append(f"{where}: {name} comes from a URL, not pinned to a version")
        else:
            version = _exact_pin(req)
            dep = make_dependency(
                name,
                version,
                manifest=manifest,
                source=source,
                hashes=hashes,
                marker=marker,
                specifier=None if version is not None else (str(req.specifier) or "*"),
            )
            if version is None:
                spec = str(req.specifier) or "any version"
                state.notes.append(f"{where}: {name} is not pinned to one version ({spec})")
        state.deps.append(dep)
        return
    # A path or URL: pip learns the name by building it; we take it from #egg=, or from a
    # wheel or sdist file name, or from the last path component.
    location, marker_text = _split_marker(text)
    marker_value = None
    if marker_text:
        try:
            parsed_marker = Marker(marker_text)
        except InvalidMarker as e:
            raise LockfileError(f"{where}: invalid marker: {_first_line(e)}") from e
        marker_value = str(parsed_marker)
        _note_marker(parsed_marker, line, where, state)
    name, version = _name_from_location(location, path, where)
    state.deps.append(
        make_dependency(
            name,
            version,
            manifest=manifest,
            source=source,
            hashes=hashes,
            marker=marker_value,
            # an editable install is a local checkout, whatever it was cloned from
            locator=f"editable:{location}" if editable else _locator_for_url(location),
        )
    )
    what = "an editable install" if editable else "a path or URL"
    state.notes.append(f"{where}: {name} is {what} ({location}), not an index pin")


def _first_line(e: Exception) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def _exact_pin(req: object) -> str | None:
    from packaging.requirements import Requirement

    assert isinstance(req, Requirement)
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def _note_marker(marker: object, line: str, where: str, state: _State) -> None:
    from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName

    if not isinstance(marker, Marker):
        return
    try:
        applies = marker.evaluate({"extra": ""})
    except (UndefinedComparison, UndefinedEnvironmentName) as e:
        state.notes.append(f"{where}: marker cannot be evaluated here: {_first_line(e)}")
        return
    if not applies:
        state.notes.append(f"{where}: marker '{marker}' does not apply to this interpreter")


def _looks_like_location(text: str) -> bool:
    if _URL_SCHEME.match(text) or text.startswith(_VCS_PREFIXES):
        return True
    head = text.split(";", 1)[0].strip()
    return head.startswith((".", "/", "~")) or ("/" in head and "@" not in head and "[" not in head)


def _split_marker(text: str) -> tuple[str, str]:
    # pip: for URLs and paths a marker must follow "; " (a bare ";" can be part of a URL).
    location, sep, marker = text.partition("; ")
    if not sep and " ;" in text:
        location, _, marker = text.partition(" ;")
    return location.strip(), marker.strip()


def _locator_for_url(location: str) -> str:
    if location.startswith(_VCS_PREFIXES):
        return f"vcs:{location}"
    if _URL_SCHEME.match(location) and not location.startswith("file:"):
        return f"url:{location}"
    return f"path:{location}"


def _name_from_location(location: str, path: Path, where: str) -> tuple[str, str | None]:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        parts = urlsplit(location)
    except ValueError as e:  # "Invalid IPv6 URL": a '[' in the host part
        raise LockfileError(f"{where}: {location[:100]!r} is not a URL: {e}") from None
    for item in parts.fragment.split("&"):
        key, _, value = item.partition("=")
        if key == "egg" and value:
            return canonical_name(value.split("[", 1)[0], where), None
    raw_path = unquote(parts.path) if _URL_SCHEME.match(location) else location
    raw_path = raw_path.split("@", 1)[0] if location.startswith(_VCS_PREFIXES) else raw_path
    leaf = PurePosixPath(raw_path.rstrip("/")).name
    if leaf.endswith(".whl"):
        try:
            wheel_name, version, _, _ = parse_wheel_filename(leaf)
            return str(wheel_name), str(version)
        except InvalidWheelFilename:
            pass
    elif leaf.endswith((".tar.gz", ".zip")):
        try:
            sdist_name, version = parse_sdist_filename(leaf)
            return str(sdist_name), str(version)
        except InvalidSdistFilename:
            pass
    if leaf in ("", ".", ".."):
        # "-e ." names the directory holding the requirements file (pip resolves it there).
        try:
            leaf = (path.parent / raw_path).resolve().name
        except (OSError, ValueError, RuntimeError) as e:  # a NUL byte, a symlink loop
            raise LockfileError(f"{where}: cannot resolve {location[:100]!r}: {e}") from None
    leaf = leaf.removesuffix(".git")
    if not leaf:
        raise LockfileError(f"{where}: cannot tell which distribution {location} installs")
    return canonical_name(leaf, where), None
