"""OSV range evaluation (chainguard/advisories/ranges.py): the schema's algorithm, PEP 440
ordering, and versions that do not parse."""

from __future__ import annotations

import pytest

from chainguard.advisories.ranges import (
    AffectedVersions,
    Event,
    EventKind,
    Hit,
    VersionRange,
    affected_hit,
    same_version,
)


def rng(*events: tuple[EventKind, str], kind: str = "ECOSYSTEM") -> VersionRange:
    return VersionRange(kind, tuple(Event(k, v) for k, v in events))


def hit(version: str, *ranges: VersionRange, versions: tuple[str, ...] = ()) -> Hit | None:
    return affected_hit(version, AffectedVersions("pkg", ranges, versions))


def affected(version: str, *ranges: VersionRange, versions: tuple[str, ...] = ()) -> bool:
    return hit(version, *ranges, versions=versions) is not None


INTRO_0_FIXED = rng(("introduced", "0"), ("fixed", "2.6.0"))


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1", True),
        ("0", True),
        ("0.dev0", True),  # "0" is below every version, even a dev release of 0
        ("2.5.1", True),
        ("2.6.0rc1", True),  # a pre-release of the fix comes before it (PEP 440)
        ("2.6.0.dev3", True),
        ("2.6.0", False),
        ("2.6", False),  # PEP 440: 2.6 == 2.6.0
        ("2.6.0.post1", False),
        ("2.6.0+cu124", False),  # a local build of the fixed release
        ("2.5.1+cu121", True),
        ("3.0", False),
    ],
)
def test_introduced_zero_fixed(version: str, expected: bool) -> None:
    assert affected(version, INTRO_0_FIXED) is expected


def test_the_hit_says_the_bounds_and_the_first_fix() -> None:
    assert hit("2.5.1", INTRO_0_FIXED) == Hit(">=0, <2.6.0", fixed="2.6.0")
    assert hit("2.5.1", INTRO_0_FIXED).remedy == ">= 2.6.0"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.9", False), ("2.0", True), ("2.4.2", True), ("2.4.2.post1", False), ("2.5", False)],
)
def test_last_affected_is_inclusive(version: str, expected: bool) -> None:
    r = rng(("introduced", "2.0"), ("last_affected", "2.4.2"))
    assert affected(version, r) is expected


def test_last_affected_remedy() -> None:
    r = rng(("introduced", "2.0"), ("last_affected", "2.4.2"))
    assert hit("2.1", r) == Hit(">=2.0, <=2.4.2", fixed=None, last_affected="2.4.2")
    assert hit("2.1", r).remedy == "> 2.4.2"  # type: ignore[union-attr]


def test_introduced_alone_affects_everything_after() -> None:
    r = rng(("introduced", "1.2"))
    assert not affected("1.1.9", r)
    assert hit("99", r) == Hit(">=1.2", fixed=None)
    assert hit("99", r).remedy.startswith("a fixed release")  # type: ignore[union-attr]


def test_several_intervals_in_one_range_and_unsorted_events() -> None:
    r = rng(("fixed", "4.0"), ("introduced", "3.0"), ("fixed", "2.0"), ("introduced", "1.0"))
    assert [affected(v, r) for v in ("0.9", "1.0", "1.9", "2.0", "2.9", "3.0", "3.9", "4.0")] == [
        False,
        True,
        True,
        False,
        False,
        True,
        True,
        False,
    ]
    assert hit("3.5", r) == Hit(">=3.0, <4.0", fixed="4.0")


def test_multiple_ranges_any_one_affects_and_the_nearest_fix_is_given() -> None:
    a = rng(("introduced", "1.0"), ("fixed", "1.5"))
    b = rng(("introduced", "0"), ("fixed", "3.0"))
    assert hit("1.2", a, b) == Hit(">=1.0, <1.5", fixed="1.5")
    assert hit("2.0", a, b) == Hit(">=0, <3.0", fixed="3.0")
    assert not affected("3.0", a, b)


def test_limit_events() -> None:
    r = rng(("introduced", "0"), ("limit", "2.0"))
    assert affected("1.9", r)
    assert not affected("2.0", r)
    assert hit("1.0", r) == Hit(">=0, <2.0 (limit)", fixed=None)
    # a "*" limit is no limit
    assert affected("99", rng(("introduced", "1.0"), ("limit", "*")))
    # several limits: below any one of them
    assert affected("2.5", rng(("introduced", "0"), ("limit", "2.0"), ("limit", "3.0")))


def test_fixed_and_introduced_at_one_version_affect_nothing_there() -> None:
    assert not affected("1.0", rng(("fixed", "1.0"), ("introduced", "1.0")))


def test_versions_list() -> None:
    assert affected("1.0.1", versions=("1.0.0", "1.0.1"))
    assert affected("1.0.1.0", versions=("1.0.1",))  # PEP 440 equality
    assert not affected("1.0.2", versions=("1.0.0", "1.0.1"))
    # listed, with a range naming the fix above it
    r = rng(("introduced", "5.0"), ("fixed", "5.1"))
    assert hit("1.0.1", r, versions=("1.0.1",)) == Hit("listed as affected", fixed="5.1")


def test_pre_releases_of_the_introducing_version_are_before_it() -> None:
    r = rng(("introduced", "2.0.0"), ("fixed", "2.1.0"))
    assert not affected("2.0.0rc1", r)
    assert affected("2.0.0", r)
    assert affected("2.1.0b2", r)


def test_semver_ranges_are_ordered_too() -> None:
    r = rng(("introduced", "1.0.0-alpha.1"), ("fixed", "1.2.3"), kind="SEMVER")
    assert affected("1.0.0", r)
    assert not affected("0.9.0", r)
    assert not affected("1.2.3", r)


def test_git_ranges_are_not_compared_with_versions() -> None:
    r = rng(("introduced", "0"), ("fixed", "a" * 40), kind="GIT")
    assert not affected("1.0", r)


@pytest.mark.parametrize("bad", ["not a version", "1.0-foo-bar", "", "🙂"])
def test_invalid_versions_never_raise(bad: str) -> None:
    # an event that does not parse: the range cannot be ordered and is left out
    assert not affected("1.0", rng(("introduced", "0"), ("fixed", bad or "x")))
    # a measured version that does not parse: only the versions list, by exact string
    assert not affected(bad, INTRO_0_FIXED)
    if bad:
        assert affected(bad, INTRO_0_FIXED, versions=(bad,))
    assert not same_version(bad, "1.0")
