"""Rendered runs: verify's fast path for datasets of many small files.

Each directory chunk the worker processes hash is also rendered as the signed statement lists
those files (``sbom/fileshape.render_element``), and only the SHA-256 and length of that text
come back (chainguard/_hashworker.py). ``RenderedRuns`` publishes them as the chunks finish, for
a reader in another thread: verify reads the signed file list while the directory is still
being hashed (sbom/packed.py), so that little is left to do once it is.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from chainguard.models import RenderedFiles


class RenderedRuns:
    """Directory chunks rendered as signed JSON (RenderedFiles), published as the workers finish
    them.

    Chunks are known by their first path. ``starting_at`` waits only while the asked-for path
    may still begin a run: it is a chunk in flight, or beyond what the walk has listed so far
    (the walk hands out chunks in path order: collectors/tree.walk).
    """

    def __init__(self, bom_ref: str) -> None:
        self.bom_ref = bom_ref
        self._cond = threading.Condition()
        self._runs: dict[str, RenderedFiles] = {}
        self._pending: set[str] = set()
        self._frontier = ""  # the greatest first path dispatched so far
        self._listed = False  # every chunk dispatched
        self._closed = False  # every chunk finished (or the hashing stopped)

    def dispatched(self, first: str) -> None:
        with self._cond:
            self._pending.add(first)
            self._frontier = max(self._frontier, first)
            self._cond.notify_all()  # a reader may now know its path begins no run

    def finished(self, first: str, run: RenderedFiles | None) -> None:
        with self._cond:
            self._pending.discard(first)
            if run is not None:
                self._runs[first] = run
            self._cond.notify_all()

    def chunk_hashed(
        self,
        prefix: str,
        names: Sequence[str],
        text: str,
        formats: str,
        nbytes: int,
        rendered: tuple[bytes, int] | None,
        in_order: bool,
    ) -> None:
        """A chunk of a directory is hashed: its ``text`` (root-digest lines) and ``formats``
        (format lines) become a run
        when the worker rendered every file (``rendered``: SHA-256 and length of the JSON) and
        the names are in path order; either way the chunk is no longer pending."""
        first, run = prefix + names[0], None
        if rendered is not None and in_order:
            digest, length = rendered
            last = prefix + names[-1]
            run = RenderedFiles(
                self.bom_ref, first, last, len(names), nbytes, text, formats, digest, length
            )
        self.finished(first, run)

    def listed(self) -> None:
        with self._cond:
            self._listed = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def starting_at(self, bom_ref: str, first: str) -> RenderedFiles | None:
        """The run of ``bom_ref`` whose first path is ``first``, once hashed; None if there is
        none (or the hashing stopped)."""
        if bom_ref != self.bom_ref:
            return None
        with self._cond:
            while (
                first not in self._runs
                and not self._closed
                and (first in self._pending or (not self._listed and first > self._frontier))
            ):
                self._cond.wait()
            return self._runs.get(first)
