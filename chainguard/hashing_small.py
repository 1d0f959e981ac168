"""Small files: batched, and hashed in this thread or by worker processes.

Files of at most ``HashSettings.small_file_size`` bytes are dominated by per-file Python work
(open, fstat, read, digest, close, stat) that holds the GIL: a thread per file is slower than a
serial loop. They are batched and hashed by one worker process per core
(chainguard/hashing_pool.py), started only once the small-file count makes the start cost pay
(``HashSettings.process_min_files``); below that, the calling thread hashes them serially.
Either way the same code hashes them (chainguard/_hashworker.py).

Bounded: at most ``_INFLIGHT_PER_WORKER`` batches per worker are queued; before the workers
start, at most ``process_min_files`` files are held.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeAlias

from chainguard._hashworker import CHUNK_SIZE, _hash_listed, _hash_small_file
from chainguard.errors import HashingError
from chainguard.hashing_pool import _WorkerProcess, start_workers, stop_workers

if TYPE_CHECKING:
    # For annotations only: chainguard/hashing.py imports this module.
    from chainguard._hashworker import _ListedResult, _SmallItem, _SmallResult
    from chainguard.hashing import FileEntry, HashSettings, ListedFiles
    from chainguard.hashing_runs import RenderedRuns

    # A unit of small-file work: FileEntry objects (with or without their identity), or a
    # chunk of a ListedFiles. Told apart by ``isinstance(unit, list)``.
    _Unit: TypeAlias = list[FileEntry] | ListedFiles

# A batch sent to a worker: enough files that pickling and queueing cost little per file,
# few enough bytes that the batches in flight stay small.
_BATCH_FILES = 256
_BATCH_BYTES = 16 * 1024 * 1024
_INFLIGHT_PER_WORKER = 4
# Names per ListedFiles chunk: few enough that the chunks in flight stay small and the cores
# finish together, enough that framing costs little per file.
_LISTED_CHUNK = 1024


class _SmallFiles:
    """Batches small files and hashes them: serially here, or on worker processes once the
    count reaches ``process_min_files``."""

    def __init__(
        self,
        settings: HashSettings,
        on_result: Callable[[FileEntry, _SmallResult], None],
        on_listed: Callable[[ListedFiles, _ListedResult], None],
        runs: RenderedRuns | None = None,
        recheck: bool = True,
    ) -> None:
        self.settings = settings
        self.runs = None if settings.blake3 else runs
        self.render = self.runs.bom_ref if self.runs is not None else None
        self.recheck = recheck
        self.on_result = on_result
        self.on_listed = on_listed
        self.count = 0
        self.current: list[FileEntry] = []
        self.current_bytes = 0
        self.held: list[_Unit] = []  # units waiting for the decision to use processes
        self.workers: list[_WorkerProcess] = []
        self.jobs: queue.Queue[Any] = queue.Queue(_INFLIGHT_PER_WORKER * settings.workers)
        self.results: queue.Queue[Any] = queue.Queue()
        self.inflight = 0
        self.use_processes = settings.workers > 1
        self.min_files = max(1, settings.process_min_files)
        self.limit = min(settings.small_file_size, settings.shard_size)
        self.blake3 = settings.blake3

    def _item(self, e: FileEntry) -> _SmallItem:
        return (e.abs_path, e.size, e.ino, e.dev, e.mtime_ns, self.limit)

    def _request(self, unit: _Unit) -> tuple[Any, ...]:
        if isinstance(unit, list):
            return ("entries", [self._item(e) for e in unit], self.blake3)
        listed = (unit.base, unit.prefix, unit.names, unit.ino, unit.dev)
        return ("listed", *listed, self.limit, self.blake3, self.render, self.recheck)

    @property
    def processes(self) -> int:
        """How many worker processes were started (0: everything ran in this thread)."""
        return len(self.workers)

    # --- taking work in ---------------------------------------------------------------------

    def add(self, entry: FileEntry) -> None:
        self.count += 1
        self.current.append(entry)
        self.current_bytes += max(entry.size, 0)
        if len(self.current) >= _BATCH_FILES or self.current_bytes >= _BATCH_BYTES:
            self._close_batch()

    def add_listed(self, listed: ListedFiles) -> None:
        names = listed.names
        for start in range(0, len(names), _LISTED_CHUNK):
            chunk = names[start : start + _LISTED_CHUNK]
            self.count += len(chunk)
            if self.runs is not None:
                self.runs.dispatched(listed.prefix + chunk[0])
            self._dispatch(replace(listed, names=chunk))

    def _close_batch(self) -> None:
        if not self.current:
            return
        batch, self.current, self.current_bytes = self.current, [], 0
        self._dispatch(batch)

    def _dispatch(self, unit: _Unit) -> None:
        if not self.workers and self.use_processes and self.count >= self.min_files:
            self._start_workers()
        if self.workers:
            self._submit(unit)
        else:
            self.held.append(unit)

    # --- the worker processes ---------------------------------------------------------------

    def _start_workers(self) -> None:
        start_workers(self.workers, self.settings.workers, self.jobs, self.results)
        held, self.held = self.held, []
        for unit in held:
            self._submit(unit)

    def _submit(self, unit: _Unit) -> None:
        # Take in finished batches first so results (and memory) do not pile up.
        while True:
            try:
                self._handle(self.results.get_nowait())
            except queue.Empty:
                break
        job = (unit, self._request(unit))
        while True:
            try:
                self.jobs.put(job, timeout=0.05)
                break
            except queue.Full:
                self._handle_one(timeout=0.05)
        self.inflight += 1

    def _handle_one(self, timeout: float) -> None:
        try:
            reply = self.results.get(timeout=timeout)
        except queue.Empty:
            if not any(w.thread.is_alive() for w in self.workers):
                raise HashingError(
                    "every hashing worker process has stopped (killed, or out of memory?); "
                    "free memory and run the command again"
                ) from None
            return
        self._handle(reply)

    def _handle(self, reply: tuple[_Unit, str, Any]) -> None:
        unit, status, payload = reply
        self.inflight -= 1
        if status != "ok":
            raise HashingError(f"hashing worker process failed: {payload}")
        self._deliver(unit, payload)

    def _deliver(self, unit: _Unit, payload: Any) -> None:
        if not isinstance(unit, list):
            self.on_listed(unit, payload)
            return
        for entry, result in zip(unit, payload, strict=True):
            self.on_result(entry, result)

    # --- finishing ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Hash everything still pending; returns when every small file has a result."""
        self._close_batch()
        if self.held:
            buf = memoryview(bytearray(CHUNK_SIZE + 1))
            for unit in self.held:
                self._hash_here(unit, buf)
            self.held = []
        while self.inflight:
            self._handle_one(timeout=0.5)

    def _hash_here(self, unit: _Unit, buf: memoryview) -> None:
        """Hash a unit in this thread (too few files for worker processes to pay)."""
        if isinstance(unit, list):
            for entry in unit:
                self.on_result(entry, _hash_small_file(self._item(entry), buf, self.blake3))
            return
        result = _hash_listed(
            unit.base,
            unit.prefix,
            unit.names,
            (unit.ino, unit.dev),
            self.limit,
            self.blake3,
            buf,
            self.render,
            self.recheck,
        )
        self._deliver(unit, result)

    def close(self) -> None:
        if self.workers:
            stop_workers(self.workers, self.jobs)
