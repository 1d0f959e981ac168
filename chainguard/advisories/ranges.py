"""Which versions an OSV record says are affected: its ``ranges`` and ``versions``, evaluated
with PEP 440 ordering (``packaging``). Pure: no I/O, and no version string, however odd, raises.

The evaluation is the OSV schema's own (§ Evaluation): the events of a range sorted by version
(``introduced: "0"`` first, a ``limit`` of ``*`` last), walked in order, each ``introduced`` at
or below the version opening, each ``fixed`` at or below it and each ``last_affected`` below it
closing; a range with ``limit`` events applies only below one of them. PEP 440 puts a
pre-release before its release, so ``2.6.0rc1`` is inside ``introduced 0, fixed 2.6.0``.

A version that ``packaging`` cannot parse is never guessed at: a range with such an event is
left out (it cannot be ordered), and a measured version that cannot be parsed is only matched
against the ``versions`` lists, by exact string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from packaging.version import InvalidVersion, Version

EventKind = Literal["introduced", "fixed", "last_affected", "limit"]
EVENT_KINDS: tuple[EventKind, ...] = ("introduced", "fixed", "last_affected", "limit")
# Range types whose versions PEP 440 can order; GIT ranges name commits, which a measured
# distribution version cannot be compared with.
ORDERED_RANGE_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    version: str


@dataclass(frozen=True, slots=True)
class VersionRange:
    type: str  # "ECOSYSTEM", "SEMVER", "GIT"
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class AffectedVersions:
    """One ``affected[]`` entry of an OSV record, for one package."""

    package: str  # PEP 503 normalised
    ranges: tuple[VersionRange, ...] = ()
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """Why a version is affected: the bounds that hold it, and what would not be."""

    bounds: str  # ">=0, <2.6.0", ">=1.0, <=1.4.2", "listed as affected"
    fixed: str | None  # the first fixed version above it, if the record names one
    last_affected: str | None = None  # the last affected version, if that closes the range

    @property
    def remedy(self) -> str:
        """What a measured version would have to be instead, as ``expected`` says it."""
        if self.fixed is not None:
            return f">= {self.fixed}"
        if self.last_affected is not None:
            return f"> {self.last_affected}"
        return "a fixed release (the advisory names none)"


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def same_version(a: str, b: str) -> bool:
    """PEP 440 equality (``2.5`` is ``2.5.0``) where both parse, the exact string otherwise."""
    va, vb = parse_version(a), parse_version(b)
    if va is not None and vb is not None:
        return va == vb
    return a.strip() == b.strip()


# Sort key of one event: "0" before every version, a "*" limit after every version; at one
# version, introduced before the events that close (a degenerate "introduced X, fixed X" then
# affects nothing, whatever order the record wrote them in).
_BOTTOM, _VERSION, _TOP = 0, 1, 2
_KIND_ORDER = {kind: i for i, kind in enumerate(EVENT_KINDS)}

_SortKey = tuple[int, Version | None, int]


def _sort_key(event: Event) -> _SortKey | None:
    kind_order = _KIND_ORDER[event.kind]
    if event.kind == "introduced" and event.version == "0":
        return (_BOTTOM, None, kind_order)
    if event.kind == "limit" and "*" in event.version:
        return (_TOP, None, kind_order)
    version = parse_version(event.version)
    return None if version is None else (_VERSION, version, kind_order)


def _ordered(keyed: list[tuple[_SortKey, Event]]) -> list[tuple[_SortKey, Event]]:
    def order(item: tuple[_SortKey, Event]) -> tuple[int, Version, int]:
        (place, version, kind), _ = item
        return (place, version or Version("0"), kind)

    return sorted(keyed, key=order)


def _at_or_below(key: _SortKey, version: Version) -> bool:
    """The event's version <= ``version``."""
    place, event_version, _ = key
    if place != _VERSION:
        return place == _BOTTOM
    assert event_version is not None
    return event_version <= version


def _below(key: _SortKey, version: Version) -> bool:
    """The event's version < ``version``."""
    place, event_version, _ = key
    if place != _VERSION:
        return place == _BOTTOM
    assert event_version is not None
    return event_version < version


def range_hit(version: Version, version_range: VersionRange) -> Hit | None:
    """The bounds of ``version_range`` that hold ``version``, or None when it is not affected
    (or the range cannot be evaluated: a GIT range, an event version that does not parse)."""
    if version_range.type not in ORDERED_RANGE_TYPES:
        return None
    keyed: list[tuple[_SortKey, Event]] = []
    for event in version_range.events:
        key = _sort_key(event)
        if key is None:
            return None
        keyed.append((key, event))
    limits = [key for key, event in keyed if event.kind == "limit"]
    if limits and not any(_below_limit(version, key) for key in limits):
        return None
    events = _ordered([item for item in keyed if item[1].kind != "limit"])
    opened: Event | None = None
    for key, event in events:
        if event.kind == "introduced" and _at_or_below(key, version):
            opened = event
        elif _closed_by(event, key, version):
            opened = None
    if opened is None:
        return None
    return _closing(opened, events, version, limits=[e for _, e in keyed if e.kind == "limit"])


def _closed_by(event: Event, key: _SortKey, version: Version) -> bool:
    """``version`` is past the end this event puts to an affected interval."""
    if event.kind == "fixed":
        return _at_or_below(key, version)
    return event.kind == "last_affected" and _below(key, version)


def _below_limit(version: Version, key: _SortKey) -> bool:
    place, limit, _ = key
    if place == _TOP:
        return True
    assert limit is not None
    return version < limit


def _closing(
    opened: Event, events: list[tuple[_SortKey, Event]], version: Version, *, limits: list[Event]
) -> Hit:
    """The hit for ``version`` inside the interval ``opened`` starts: its first closing event."""
    lower = f">={opened.version}"
    for key, event in events:
        if event.kind == "fixed" and not _at_or_below(key, version):
            return Hit(f"{lower}, <{event.version}", fixed=event.version)
        if event.kind == "last_affected" and not _below(key, version):
            return Hit(f"{lower}, <={event.version}", fixed=None, last_affected=event.version)
    bounded = [e.version for e in limits if "*" not in e.version]
    if bounded:
        return Hit(f"{lower}, <{min(bounded, key=Version)} (limit)", fixed=None)
    return Hit(lower, fixed=None)


def affected_hit(version: str, affected: AffectedVersions) -> Hit | None:
    """Why ``version`` is affected according to one ``affected[]`` entry, or None when it is
    not (IsVulnerable of the OSV schema: listed in ``versions``, or inside a range)."""
    parsed = parse_version(version)
    if parsed is not None:
        hits = [h for r in affected.ranges if (h := range_hit(parsed, r)) is not None]
        if hits:
            return nearest(hits)
    if any(same_version(version, listed) for listed in affected.versions):
        fixed = _first_fixed_above(parsed, affected.ranges) if parsed is not None else None
        return Hit("listed as affected", fixed=fixed)
    return None


def nearest(hits: list[Hit]) -> Hit:
    """Of several hits on one version, the one with the lowest fixed version: the nearest
    upgrade out of the affected ranges (a hit naming no fix comes last)."""
    return min(hits, key=_fixed_order)


def _fixed_order(hit: Hit) -> tuple[int, Version]:
    if hit.fixed is None:
        return (1, Version("0"))
    return (0, parse_version(hit.fixed) or Version("0"))


def _first_fixed_above(version: Version, ranges: tuple[VersionRange, ...]) -> str | None:
    """The lowest ``fixed`` event above ``version`` in any ordered range, for a version that is
    affected only by being listed."""
    fixed = [
        (parsed, event.version)
        for r in ranges
        if r.type in ORDERED_RANGE_TYPES
        for event in r.events
        if event.kind == "fixed"
        and (parsed := parse_version(event.version)) is not None
        and parsed > version
    ]
    return min(fixed)[1] if fixed else None
