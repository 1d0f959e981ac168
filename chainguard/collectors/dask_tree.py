"""A dataset hashed on a dask.distributed cluster (`--dask ADDRESS`): the same ObservedTree the
local collector (collectors/tree.py) makes, so compare, the SBOM and the reporters are unchanged.

The client lists the files; tasks go to the workers, which open and hash the files where they
run (collectors/_daskworker.py) and return digests; the client assembles the tree.

- A local path (one the workers share, e.g. an NFS mount) is listed by the local walk: the same
  files, links and anomalies as without --dask. Its files are stat'ed here so large ones can be
  planned by shards (and their modes recorded and compared from that stat, as locally); each
  worker checks the size, modification time and inode it was given.
- ``s3://``, ``gs://``, ``hf://`` and other fsspec URLs are listed with fsspec's ``find``.
  Objects have no symbolic links, modes or special files (the tree's ``modes_observed`` is
  false: verify compares no mode, build records none): every object under the prefix is a
  regular file, recorded under its key relative to the prefix. Its identity is its size and
  version token (ETag, generation, …), checked again by the worker after reading.
- What is computed is the local engine's plan (hashing.plan_jobs): small files go in batches
  (one task per batch: Dask costs about a millisecond per task); in verify mode each shard of
  a large file is a task; in build mode a large file's whole digest and its shard digests come
  from one read (SHA-256 of the whole file is sequential anyway; reading it twice from an
  object store would double the cost).
- A worker that dies mid-run: Dask runs its tasks again elsewhere (its ``allowed-failures``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainguard.collectors._daskworker import (
    Identity,
    Location,
    Outcome,
    hash_batch,
    hash_range,
    read_facts,
    version_token,
)
from chainguard.collectors.tree import IgnoreRules, walk
from chainguard.errors import ClusterError, HashingError, UsageError
from chainguard.hashing import FileEntry, HashSettings, ListedFiles, Mode, plan_jobs
from chainguard.models import Anomaly, FileDigest, FileList, ObservedTree
from chainguard.paths import unsafe_reason
from chainguard.sbom.fileshape import recorded_mode

# A batch of small files: at most this many files or bytes. A task costs a round trip to the
# scheduler (milliseconds, more on a loaded one); a batch of 1,000 small files takes ~50 ms to
# hash, and a lost worker costs only its batches again.
BATCH_FILES = 1000
BATCH_BYTES = 256 * 1024 * 1024
# How long to try to reach the scheduler before giving up (exit 3).
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class DaskCluster:
    """Where to hash: a dask.distributed scheduler address, and the fsspec storage options
    (``--storage-option KEY=VALUE``) the client and every worker open the source with."""

    address: str
    storage_options: tuple[tuple[str, Any], ...] = ()
    timeout: float = CONNECT_TIMEOUT_S


def parse_storage_options(pairs: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    """``KEY=VALUE`` pairs; a value that reads as JSON (true, 3, {"a": 1}) is taken as such."""
    import json

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--storage-option {pair!r}: use KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return tuple(sorted(options.items()))


def is_url(source: str | Path) -> bool:
    """An fsspec URL (``s3://…``) rather than a local path (``file://`` counts as local)."""
    text = str(source)
    return "://" in text and not text.startswith("file://")


def local_path(source: str | Path) -> Path:
    text = str(source)
    return Path(text[len("file://") :] if text.startswith("file://") else text)


def url_name(url: str) -> str:
    """The component name of an object-store prefix: its last segment."""
    return url.rstrip("/").rsplit("/", 1)[-1].split("://")[-1] or url


@dataclass
class _Listed:
    """The files to hash: (entry, identity) each, and what the listing found wrong."""

    location: Location
    files: list[tuple[FileEntry, Identity]] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)


def _list_local(root: Path, rules: IgnoreRules) -> _Listed:
    listed = _Listed(("file", ()))
    try:
        st = os.stat(root)
    except OSError as e:
        raise HashingError(f"{root}: {e.strerror or e}") from e
    if stat.S_ISREG(st.st_mode):
        entry = FileEntry.from_stat(root.name, os.path.realpath(root), st)
        listed.files.append((entry, (st.st_size, st.st_mtime_ns, st.st_ino)))
        return listed
    if not stat.S_ISDIR(st.st_mode):
        raise HashingError(f"{root}: not a directory or regular file")
    for item in walk(root, rules):
        if isinstance(item, Anomaly):
            listed.anomalies.append(item)
        elif isinstance(item, ListedFiles):
            for name in item.names:
                _add_stat(listed, item.prefix + name, item.base + name)
        else:
            _add_stat(listed, item.rel, item.abs_path)
    return listed


def _add_stat(listed: _Listed, rel: str, path: str) -> None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        listed.anomalies.append(Anomaly(rel, "changed-during-hash", "disappeared while listed"))
        return
    except OSError as e:
        listed.anomalies.append(Anomaly(rel, "unreadable", e.strerror or str(e)))
        return
    if not stat.S_ISREG(st.st_mode):
        listed.anomalies.append(Anomaly(rel, "changed-during-hash", "replaced after it was listed"))
        return
    listed.files.append(
        (FileEntry.from_stat(rel, path, st), (st.st_size, st.st_mtime_ns, st.st_ino))
    )


def _list_remote(url: str, options: tuple[tuple[str, Any], ...], rules: IgnoreRules) -> _Listed:
    from chainguard.collectors._daskworker import filesystem

    protocol = url.split("://", 1)[0]
    try:
        fs_class = _filesystem_class(protocol)
    except (ImportError, ValueError) as e:
        raise UsageError(f"{url}: fsspec cannot open {protocol}:// here: {e}") from e
    location: Location = (protocol, options)
    fs = filesystem(location)
    root = fs_class._strip_protocol(url).rstrip("/")
    listed = _Listed(location)
    fs.invalidate_cache()  # this process's instance is shared: list what is there now
    try:
        if fs.isfile(root):
            info = fs.info(root)
            entries = {root: info}
            prefix = root.rsplit("/", 1)[0] + "/"
        else:
            entries = fs.find(root, detail=True, withdirs=False)
            prefix = root + "/"
    except FileNotFoundError as e:
        raise HashingError(f"{url}: no such file or prefix") from e
    except Exception as e:  # fsspec backends raise their own (botocore, aiohttp, …)
        raise HashingError(f"{url}: cannot list: {type(e).__name__}: {e}") from e
    if not entries:
        raise HashingError(f"{url}: no such file or prefix (nothing listed under it)")
    for path, info in sorted(entries.items()):
        if info.get("type", "file") != "file" or not path.startswith(prefix):
            continue
        rel = path[len(prefix) :]
        if rules.matches(rel):
            continue
        reason = unsafe_reason(rel)
        if reason is not None:
            listed.anomalies.append(Anomaly(rel, "special-file", f"unsafe file name: {reason}"))
            continue
        size = int(info.get("size") or 0)
        entry = FileEntry(rel, path, size, 0, 0, 0)
        listed.files.append((entry, (size, version_token(info))))
    return listed


def connect(cluster: DaskCluster) -> Any:
    """A dask.distributed Client of the scheduler, or ClusterError (exit 3) within the timeout."""
    from chainguard._extras import require_dask

    require_dask()
    import asyncio

    import distributed

    client: Any = distributed.Client  # untyped
    try:
        # Client bounds the TCP connect, not the handshake after it: a port that accepts and
        # never answers would hang the run. A first connection, bounded as a whole, finds out.
        asyncio.run(_probe(cluster.address, cluster.timeout))
        return client(cluster.address, timeout=cluster.timeout, set_as_default=False)
    except (ValueError, TypeError) as e:
        raise UsageError(f"--dask {cluster.address!r}: not a scheduler address ({e})") from e
    except Exception as e:  # OSError, TimeoutError, CommClosedError
        detail = str(e).splitlines()[0] if str(e) else f"{type(e).__name__} (no answer)"
        raise ClusterError(
            f"cannot reach the Dask scheduler at {cluster.address} "
            f"within {cluster.timeout:g} s: {detail}"
        ) from e


async def _probe(address: str, timeout: float) -> None:
    import asyncio

    from distributed.comm import core

    comm_connect: Any = core.connect  # untyped
    comm = await asyncio.wait_for(comm_connect(address, timeout=timeout), timeout)
    await comm.close()


@dataclass(frozen=True, slots=True)
class _Task:
    """One submitted task: which files (rel) it answers for, and how many bytes it reads."""

    kind: str  # "batch" | "range"
    rels: tuple[str, ...]
    nbytes: int
    shard: int = -1  # "range" in verify mode: which shard; -1: the whole file


def collect_dask_tree(
    source: str | Path,
    cluster: DaskCluster,
    settings: HashSettings,
    *,
    ignore: IgnoreRules | None = None,
    mode: Mode = "build",
    shard_sizes: Mapping[str, int] | None = None,
    progress: Callable[[int], None] | None = None,
    on_listed: Callable[[int, int], None] | None = None,
    client: Any = None,
) -> ObservedTree:
    """Hash ``source`` (a local path the workers share, or an fsspec URL) on the cluster.

    Returns what collect_tree returns for the same files: a file that changes between listing
    and hashing is a ``changed-during-hash`` anomaly. ``client``: a connected Client to use
    (else one is connected and closed here)."""
    from chainguard._extras import require_dask

    require_dask()  # before fsspec lists anything
    if settings.blake3:
        from chainguard.hashing import _blake3_new

        _blake3_new()  # the missing extra: a usage error here, not a failed task
    rules = ignore if ignore is not None else IgnoreRules()
    if is_url(source):
        listed = _list_remote(str(source), cluster.storage_options, rules)
    else:
        listed = _list_local(local_path(source), rules)
    own_client = client is None
    if own_client:
        client = connect(cluster)
    try:
        digests, anomalies = _hash_listed(
            client,
            listed,
            settings,
            mode,
            {} if shard_sizes is None else shard_sizes,
            progress,
            on_listed,
        )
    finally:
        if own_client:
            client.close()
    files = FileList((), digests, shard_size=settings.shard_size)
    return ObservedTree(
        root=str(source),
        files=files,
        anomalies=tuple(sorted([*listed.anomalies, *anomalies], key=lambda a: a.path)),
        bytes_hashed=files.total_size(),
        modes_observed=not is_url(source),  # an object store has no file modes
    )


def _batches(
    small: Sequence[tuple[FileEntry, Identity]],
) -> Iterator[list[tuple[FileEntry, Identity]]]:
    batch: list[tuple[FileEntry, Identity]] = []
    nbytes = 0
    for item in small:
        if batch and (len(batch) >= BATCH_FILES or nbytes + item[0].size > BATCH_BYTES):
            yield batch
            batch, nbytes = [], 0
        batch.append(item)
        nbytes += item[0].size
    if batch:
        yield batch


def _hash_listed(
    client: Any,
    listed: _Listed,
    settings: HashSettings,
    mode: Mode,
    shard_sizes: Mapping[str, int],
    progress: Callable[[int], None] | None,
    on_listed: Callable[[int, int], None] | None,
) -> tuple[list[FileDigest], list[Anomaly]]:
    import distributed

    as_completed: Any = distributed.as_completed  # untyped

    location, b3 = listed.location, settings.blake3
    identity = {e.rel: ident for e, ident in listed.files}
    entries = {e.rel: e for e, _ in listed.files}
    jobs = plan_jobs([e for e, _ in listed.files], settings, mode, shard_sizes)
    if on_listed is not None:
        on_listed(len(entries), sum(e.size for e in entries.values()))
    futures: dict[Any, _Task] = {}
    small = [
        (j.entry, identity[j.entry.rel])
        for j in jobs
        if j.whole and not j.shard_count and j.entry.size <= BATCH_BYTES
    ]
    for batch in _batches(small):
        items = [(e.abs_path, ident) for e, ident in batch]
        future = client.submit(hash_batch, location, items, b3, pure=False)
        futures[future] = _Task(
            "batch", tuple(e.rel for e, _ in batch), sum(e.size for e, _ in batch)
        )
    shard = settings.shard_size
    for j in jobs:
        e, ident = j.entry, identity[j.entry.rel]
        if j.whole and (j.shard_count or e.size > BATCH_BYTES):
            split = shard if j.shard_count else 0
            future = client.submit(
                hash_range, location, e.abs_path, ident, 0, e.size, split, b3, pure=False
            )
            futures[future] = _Task("range", (e.rel,), e.size)
        elif not j.whole:
            for i in range(j.shard_count):
                length = min(shard, e.size - i * shard)
                args = (location, e.abs_path, ident, i * shard, length, 0, False)
                future = client.submit(hash_range, *args, pure=False)
                futures[future] = _Task("range", (e.rel,), length, shard=i)
    results: dict[str, Outcome] = {}
    shards: dict[str, dict[int, str]] = {}
    shard_formats: dict[str, str | None] = {}
    failed: dict[str, Outcome] = {}
    try:
        for future in as_completed(list(futures), loop=client.loop):
            task = futures.pop(future)
            outcomes: list[Outcome] = future.result() if task.kind == "batch" else [future.result()]
            for rel, outcome in zip(task.rels, outcomes, strict=True):
                if outcome[0] != "ok":
                    failed.setdefault(rel, outcome)
                elif task.shard >= 0:
                    shards.setdefault(rel, {})[task.shard] = outcome[1][0]
                    if task.shard == 0:  # the first bytes: the format, as the local engine
                        shard_formats[rel] = outcome[1][3]
                else:
                    results[rel] = outcome
            if progress is not None:
                progress(task.nbytes)
    except Exception as e:
        client.cancel(list(futures))
        detail = str(e).splitlines()[0] if str(e) else ""
        raise ClusterError(
            f"hashing on the Dask cluster failed: {type(e).__name__}: {detail}"
        ) from e
    digests: list[FileDigest] = []
    anomalies: list[Anomaly] = []
    for j in jobs:
        rel = j.entry.rel
        bad = failed.get(rel)
        if bad is not None:
            if bad[0] == "changed":
                anomalies.append(Anomaly(rel, "changed-during-hash", str(bad[1])))
            else:
                anomalies.append(Anomaly(rel, "unreadable", str(bad[1])))
            continue
        if j.whole:
            sha, blake, shard_list, fmt = results[rel][1]
        else:
            got = shards[rel]
            sha, blake, fmt = None, None, shard_formats.get(rel)
            shard_list = tuple(got[i] for i in range(j.shard_count))
        # The mode as the listing stat'ed it (a shared path; an object store has none: 0)
        bits = recorded_mode(j.entry.st_mode)
        shards_of = tuple(shard_list)
        digests.append(
            FileDigest(rel, j.entry.size, sha, blake, shard, shards_of, format=fmt, mode=bits)
        )
    return digests, anomalies


# --- what the SBOM and the format policy read again, for an object store --------------------


def remote_facts(
    client: Any, tree: ObservedTree, source: str, cluster: DaskCluster
) -> list[FileDigest]:
    """The tree's files with their .safetensors / .parquet facts, read by the workers."""
    from dataclasses import replace

    location = location_of(source, cluster)
    prefix = prefix_of(source, cluster)
    wanted = {
        f.path: client.submit(read_facts, location, prefix + f.path, f.size, kind, pure=False)
        for f in tree.files
        for kind in [_facts_kind(f.path)]
        if kind is not None
    }
    out = []
    for f in tree.files:
        future = wanted.get(f.path)
        if future is None:
            out.append(f)
            continue
        info = result_of(future)
        kind = _facts_kind(f.path)
        out.append(
            replace(f, safetensors=info) if kind == "safetensors" else replace(f, parquet=info)
        )
    return out


def _facts_kind(path: str) -> str | None:
    if path.endswith(".safetensors"):
        return "safetensors"
    if path.endswith(".parquet"):
        return "parquet"
    return None


def location_of(source: str, cluster: DaskCluster) -> Location:
    return (source.split("://", 1)[0], cluster.storage_options)


def prefix_of(source: str, cluster: DaskCluster) -> str:
    """What goes before a relative path to name the object (the URL without its protocol)."""
    from chainguard.collectors._daskworker import filesystem

    protocol = source.split("://", 1)[0]
    root = str(_filesystem_class(protocol)._strip_protocol(source)).rstrip("/")
    if filesystem(location_of(source, cluster)).isfile(root):  # one object: named by itself
        return root.rsplit("/", 1)[0] + "/"
    return root + "/"


def _filesystem_class(protocol: str) -> Any:
    import fsspec  # type: ignore[import-untyped,unused-ignore]  # (no py.typed)

    return fsspec.get_filesystem_class(protocol)


def result_of(future: Any) -> Any:
    from chainguard.errors import ChainguardError

    try:
        return future.result()
    except ChainguardError:
        raise
    except Exception as e:
        detail = str(e).splitlines()[0] if str(e) else ""
        raise ClusterError(
            f"a task on the Dask cluster failed: {type(e).__name__}: {detail}"
        ) from e
