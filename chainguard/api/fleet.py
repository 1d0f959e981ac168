"""fleet status: every enrolled host's newest attestation in an OCI registry, fetched (bounded),
verified under the host's enrolled key and judged (chainguard/fleet/status.py)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from chainguard.errors import KeyFileError, UsageError
from chainguard.fleet.oci import Registry, RegistryContentError, RegistryRef
from chainguard.fleet.publish import HOST_NAME, parse_tag
from chainguard.fleet.status import (
    MAX_BUNDLE,
    Attestation,
    Evidence,
    FleetStatus,
    Untrusted,
    bundle_of_manifest,
    candidates,
    judge,
    verify_attestation,
)
from chainguard.trust.keys import TrustedKey

MAX_ENROLLED = 10_000


def enrolled_keys(directory: Path) -> dict[str, TrustedKey]:
    """``NAME.pub`` for each host in ``directory``: the only keys fleet status trusts."""
    from chainguard.trust.keys import load_public_key

    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix == ".pub")
    except OSError as e:
        raise KeyFileError(f"{directory}: cannot read the host keys: {e.strerror or e}") from e
    keys: dict[str, TrustedKey] = {}
    for path in paths[: MAX_ENROLLED + 1]:
        if not HOST_NAME.fullmatch(path.stem):
            raise KeyFileError(f"{path}: NAME.pub must be named after a host (letters, digits, .-)")
        keys[path.stem] = load_public_key(path)
    if not keys:
        raise UsageError(
            f"--host-keys {directory}: no NAME.pub files (enroll each host's host.pub)"
        )
    if len(keys) > MAX_ENROLLED:
        raise UsageError(f"--host-keys {directory}: more than {MAX_ENROLLED} hosts")
    return keys


def fleet_status(
    ref: RegistryRef,
    host_keys: Path,
    *,
    stale: timedelta,
    since: datetime | None = None,
    username: str | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> FleetStatus:
    """One row per enrolled host and per name that pushes without being enrolled. A registry
    that cannot be used raises RegistryError (exit 3); an artifact that cannot be read or does
    not verify is that host's ``attestation-untrusted`` finding."""
    keys = enrolled_keys(host_keys)
    registry = Registry(ref, username=username, password=password)
    tags, truncated = registry.tags()
    tags_listed = len(tags)
    if truncated:
        # A fleet outgrows one listing: read each enrolled host's own run of tags instead
        # ("HOST_..." sort together). Unenrolled names are then those of the first listing.
        own: list[str] = []
        truncated = False
        for host in keys:
            host_tags, cut = registry.tags(prefix=f"{host}_")
            own += host_tags
            truncated |= cut
        tags_listed = max(tags_listed, len(own))
        tags = [t for t in tags if _host_of(t) not in keys] + own
    by_host: dict[str, list[tuple[str, datetime, int]]] = defaultdict(list)
    for tag in tags:
        info = parse_tag(tag)
        if info is not None:
            by_host[info.host].append((tag, info.time, info.seq))
    evidence: dict[str, Evidence] = {}
    for host, key in keys.items():
        # the tag's time is a hint to skip old artifacts; the signed time decides
        listed = [t for t in by_host.get(host, []) if since is None or t[1] >= since]
        trusted: list[Attestation] = []
        untrusted: list[tuple[str, str]] = []
        for tag in candidates(listed):
            try:
                trusted.append(_fetch_and_verify(registry, host, key, tag))
            except Untrusted as e:
                untrusted.append((tag, str(e)))
        evidence[host] = Evidence(tuple(trusted), tuple(untrusted))
    unenrolled = {h: len(t) for h, t in by_host.items() if h not in keys}
    return judge(
        str(ref),
        evidence,
        unenrolled,
        now=now or datetime.now(timezone.utc),
        stale=stale,
        since=since,
        tags_listed=tags_listed,
        tags_truncated=truncated,
    )


def _host_of(tag: str) -> str | None:
    info = parse_tag(tag)
    return None if info is None else info.host


def _fetch_and_verify(registry: Registry, host: str, key: TrustedKey, tag: str) -> Attestation:
    try:
        digest, size = bundle_of_manifest(registry.manifest(tag))
        bundle = registry.blob(digest, min(size, MAX_BUNDLE))
    except RegistryContentError as e:
        raise Untrusted(str(e).removeprefix(f"{registry.ref}: ")) from None
    return verify_attestation(host, key, tag, bundle)


__all__ = ["enrolled_keys", "fleet_status"]
