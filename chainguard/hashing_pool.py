"""The hashing worker processes: fresh interpreters that hash small files for this process.

Started (by chainguard/hashing_small.py) only once the small-file count makes their start cost
pay. Each one runs chainguard/_hashworker.py and nothing else; this side feeds it requests from
a shared queue and puts its replies on another.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import threading
from typing import IO, Any

from chainguard._hashworker import _read_frame, _write_frame
from chainguard.errors import HashingError, UsageError

# Requests written to a worker process ahead of its replies, and the pipe size that lets it
# get that far ahead (see _WorkerProcess): enough work to outlast the longest stretch this
# process's other threads hold the GIL (benchmarks/README.md, "The hashing engine").
_PIPELINED = 16
_PIPE_SIZE = 1024 * 1024

# Worker processes are fresh interpreters (`python -I -S`, fork+exec: safe from a threaded
# parent, and unlike multiprocessing's spawn/forkserver they never re-import the caller's
# __main__, so a user's script needs no `if __name__ == "__main__"` guard). They get the
# parent's sys.path, then answer length-prefixed marshal frames on stdin/stdout: marshal is the
# fastest stdlib codec for tuples of str/int, and both ends are chainguard/_hashworker.py, which
# imports nothing beyond a few stdlib modules, so that a worker starts several times faster
# than one importing chainguard (benchmarks/README.md, "The hashing engine").
_WORKER_BOOT = "from chainguard._hashworker import worker_main; worker_main()"
# How many worker processes this process has started (tests check the process path ran).
worker_processes_started = 0


def _widen_pipe(stream: IO[bytes] | None) -> None:
    """Let a pipe hold _PIPE_SIZE bytes (Linux; elsewhere the default stays): a worker can then
    run ahead by several replies while this process is busy elsewhere (its other threads hold
    the GIL for a long single C call when reading a large signed SBOM)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if stream is None or set_size is None:
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(stream.fileno(), set_size, _PIPE_SIZE)


class _WorkerProcess:
    """One worker process and two parent threads: one writes it requests taken from a shared
    queue, keeping up to _PIPELINED unanswered so that it never waits for this process (whose
    other threads hold the GIL for milliseconds at a time), one reads its replies in order."""

    def __init__(self, jobs: queue.Queue[Any], results: queue.Queue[Any]) -> None:
        import collections
        import subprocess
        import sys

        # The parent's path, plus where this package lives (an editable install finds it through
        # an import hook that -S does not load); appended, so it shadows nothing.
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = [*sys.path, package_parent]
        boot = f"import sys; sys.path[:] = {path!r}; {_WORKER_BOOT}"
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", boot],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        for stream in (self.proc.stdin, self.proc.stdout):
            _widen_pipe(stream)
        self.jobs, self.results = jobs, results
        self.slots = threading.Semaphore(_PIPELINED)
        self.sent: collections.deque[Any] = collections.deque()  # units written, not answered
        self.writer = threading.Thread(target=self._write, name="chainguard-hash-in", daemon=True)
        self.thread = threading.Thread(target=self._read, name="chainguard-hash-out", daemon=True)
        self.writer.start()
        self.thread.start()

    def _write(self) -> None:
        assert self.proc.stdin is not None
        while True:
            self.slots.acquire()
            job = self.jobs.get()
            if job is None:
                return
            unit, request = job
            self.sent.append(unit)
            try:
                _write_frame(self.proc.stdin, request)
            except (OSError, ValueError) as e:
                # The process is gone. Say so for this unit (the reader may say it too: the
                # first error stops the hashing, so a second one is never read).
                died = f"worker process died ({type(e).__name__})"
                self.results.put((unit, "error", died))
                return

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                status, payload = _read_frame(self.proc.stdout)
            except (OSError, EOFError, ValueError) as e:
                if self.sent:
                    died = f"worker process died ({type(e).__name__})"
                    self.results.put((self.sent.popleft(), "error", died))
                return
            self.results.put((self.sent.popleft(), status, payload))
            self.slots.release()
            if status != "ok":
                return

    def stop(self) -> None:
        for _ in range(_PIPELINED):
            self.slots.release()  # a writer waiting for a slot then finds the end marker
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()


# Below this many small files the serial loop in the calling thread wins over starting the
# worker processes (benchmarks/README.md, "The hashing engine"). Override with the environment
# variable below (tests use 1 to force worker processes on tiny trees).
PROCESS_MIN_FILES = 8000
PROCESS_MIN_FILES_ENV = "CHAINGUARD_PROCESS_MIN_FILES"


def default_process_min_files() -> int:
    """HashSettings.process_min_files by default: $CHAINGUARD_PROCESS_MIN_FILES, else
    PROCESS_MIN_FILES."""
    value = os.environ.get(PROCESS_MIN_FILES_ENV, "")
    if not value:
        return PROCESS_MIN_FILES
    if not value.isdigit():
        raise UsageError(f"{PROCESS_MIN_FILES_ENV} must be a non-negative integer, got {value!r}")
    return int(value)


def default_workers() -> int:
    """The cores this process may run on: HashSettings.workers by default."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def start_workers(
    workers: list[_WorkerProcess], count: int, jobs: queue.Queue[Any], results: queue.Queue[Any]
) -> None:
    """Start ``count`` worker processes taking requests from ``jobs`` and answering on
    ``results``, each appended to ``workers`` once started (the caller stops them all, even
    when a later one fails to start)."""
    global worker_processes_started
    worker_processes_started += count
    try:
        for _ in range(count):
            workers.append(_WorkerProcess(jobs, results))
    except OSError as e:
        raise HashingError(f"cannot start a hashing worker process: {e}") from e


def stop_workers(workers: list[_WorkerProcess], jobs: queue.Queue[Any]) -> None:
    """End the worker processes ``start_workers`` started on ``jobs``: unblock every feeder
    thread (the queued jobs dropped, an end marker each), then close each process's pipes,
    which ends its loop. ``workers`` is emptied."""
    while True:
        try:
            jobs.get_nowait()
        except queue.Empty:
            break
    for _ in workers:
        with contextlib.suppress(queue.Full):
            jobs.put_nowait(None)
    for w in workers:
        w.stop()
        w.writer.join(timeout=5)
        w.thread.join(timeout=5)
    workers.clear()
