"""Observing a directory early: hashing it while the signature is checked, or from the first
milliseconds of the process (chainguard/_launch.py), handed to verify explicitly.

Hashing a directory needs nothing from the signed SBOM but the shard size of large files, and
`sbom build` records the default one. So verify starts walking and hashing before it checks the
signature and reads the SBOM, and compares only once trust is established: nothing unverified
is ever compared with anything. If trust fails, the hashing is cancelled and its result thrown
away. Files the SBOM records with another shard size (or without shards) are hashed again
afterwards (api/tree.py, shards_to_settle).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.models import FileList, ObservedTree, Progress, RenderedFiles

if TYPE_CHECKING:
    from chainguard.collectors.tree import IgnoreRules
    from chainguard.sbom.packed import Expect


class ProgressRelay:
    """Progress for an observation that may start before its progress bar exists (prestart):
    forwards to the attached receiver, and replays what it missed when attached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Progress | None = None
        self._started: tuple[int, int] | None = None
        self._done = 0

    def attach(self, target: Progress | None) -> None:
        with self._lock:
            self._target = target
            started, done = self._started, self._done
        if target is not None and started is not None:
            target.start(*started)
            if done:
                target.advance(done)

    def start(self, files: int, total_bytes: int) -> None:
        with self._lock:
            self._started = (files, total_bytes)
            target = self._target
        if target is not None:
            target.start(files, total_bytes)

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self._done += nbytes
            target = self._target
        if target is not None:
            target.advance(nbytes)


class TreeObservation:
    """Walks and hashes a directory on a background thread (collect_tree, verify mode, large
    files by shards of the default size) while the caller does something else.

    ``render``: the component bom-ref the directory is probably signed as; its chunks are then
    also published as signed JSON (``runs``) for reading the signed SBOM faster."""

    def __init__(
        self,
        directory: Path,
        *,
        own_files: Sequence[Path] = (),
        ignore: Sequence[str] = (),
        progress: Progress | None = None,
        render: str | None = None,
        link_root: Path | None = None,
    ) -> None:
        from chainguard.collectors.tree import ignore_rules
        from chainguard.hashing_runs import RenderedRuns

        self.cancelled = threading.Event()
        self._tree: ObservedTree | None = None
        self._error: BaseException | None = None
        self.runs = RenderedRuns(render) if render is not None else None
        self.rules = ignore_rules(directory, ignore, own_files)
        self.directory = directory
        self.render = render
        self.link_root = link_root  # collectors/tree.walk: a hub cache snapshot's blobs/
        self.progress = ProgressRelay()
        self.progress.attach(progress)
        self._thread = threading.Thread(
            target=self._run,
            args=(directory, self.rules, self.progress),
            name="chainguard-observe",
            daemon=True,
        )
        self._thread.start()

    def serves(
        self,
        directory: Path,
        rules: IgnoreRules,
        render: str | None,
        link_root: Path | None = None,
    ) -> bool:
        """Hashes exactly what an observation made with these arguments would."""
        return (
            os.path.realpath(directory) == os.path.realpath(self.directory)
            and rules == self.rules
            and render == self.render
            and link_root == self.link_root
        )

    def _run(self, directory: Path, rules: IgnoreRules, progress: Progress | None) -> None:
        from chainguard.collectors.tree import collect_tree
        from chainguard.hashing import EveryPath, HashSettings

        # Only a large signed SBOM (many files) is read alongside: start the worker processes
        # with the first directory, not after thousands of files were listed.
        settings = HashSettings(process_min_files=1)
        try:
            self._tree = collect_tree(
                directory,
                settings,
                ignore=rules,
                mode="verify",
                shard_sizes=EveryPath(settings.shard_size),
                progress=progress.advance if progress else None,
                on_listed=progress.start if progress else None,
                cancelled=self.cancelled,
                runs=self.runs,
                link_root=self.link_root,
            )
            files = self._tree.files
            if isinstance(files, FileList) and not files.extra:
                # compare needs it; meanwhile the caller reads the rest of the signed SBOM
                files.tree_digest()
        except BaseException as e:  # handed to the caller by result()
            self._error = e
        finally:
            if self.runs is not None:
                self.runs.close()

    def expect(self) -> Expect | None:
        """What the signed file lists are expected to hold (sbom/packed.py), as it is hashed."""
        return self.runs.starting_at if self.runs is not None else None

    def result(self) -> ObservedTree:
        """The observed tree, once hashed; re-raises what the hashing raised."""
        self._thread.join()
        self.runs = None  # read: let go of the chunks' lines
        if self._error is not None:
            raise self._error
        assert self._tree is not None
        return self._tree

    def cancel(self) -> None:
        """Stop the hashing (if still running) and wait until it has; idempotent."""
        self.cancelled.set()
        self._thread.join()


def expect_any(observations: dict[str, TreeObservation]) -> Expect | None:
    """One Expect for several observed directories, by component bom-ref."""
    expects = {ref: o.expect() for ref, o in observations.items()}

    def expect(bom_ref: str, first: str) -> RenderedFiles | None:
        one = expects.get(bom_ref)
        return one(bom_ref, first) if one is not None else None

    return expect if observations else None


# --- early start: from the first milliseconds of the process ----------------------------------
#
# A many-file verify spends its first ~0.1 s importing and parsing the command line while the
# other cores idle. `chainguard verify dataset DIR --sbom F ...` (chainguard/_launch.py) therefore
# starts the observation verify_tree would start, and hashes the SBOM file, before the CLI is even
# imported, and hands both to the CLI as an EarlyStart. verify adopts the observation only if it
# hashes exactly what its own would (same directory, ignore rules and component), and an SBOM
# digest only if the file still has the identity it had when read; otherwise the work is
# cancelled and thrown away. Either way, nothing is compared before trust is established.


class EarlyDigest:
    """An SBOM file hashed on a thread while the CLI starts: a dataset's SBOM is tens of MB, and
    a core idles during start-up. Its digest is used only if the file still has the identity it
    had when read (inode, device, size, modification time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest: str | None = None
        self.identity: tuple[int, int, int, int] | None = None
        self.thread = threading.Thread(target=self._run, name="chainguard-sbom", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            before = file_identity(self.path)
            digest = file_sha256(self.path)
            if file_identity(self.path) == before:
                self.identity, self.digest = before, digest
        except OSError:
            pass

    def result(self) -> str | None:
        self.thread.join()
        try:
            unchanged = self.digest is not None and file_identity(self.path) == self.identity
        except OSError:
            return None
        return self.digest if unchanged else None


def file_identity(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    buf = bytearray(1024 * 1024)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


@dataclass
class EarlyStart:
    """Work started before the CLI was imported, handed to verify as an argument: at most one
    directory observation, and digests of SBOM files. Each is taken at most once."""

    observation: TreeObservation | None = None
    sbom_digests: dict[str, EarlyDigest] = field(default_factory=dict)

    def take_observation(self) -> TreeObservation | None:
        taken, self.observation = self.observation, None
        return taken

    def hash_sbom(self, path: Path) -> None:
        key = os.path.abspath(path)
        if key not in self.sbom_digests:
            self.sbom_digests[key] = EarlyDigest(path)

    def sbom_digest(self, path: Path) -> str | None:
        """The early digest of ``path``, if one was made and the file is unchanged since."""
        early = self.sbom_digests.pop(os.path.abspath(path), None)
        return early.result() if early is not None else None

    def cancel(self) -> None:
        observation = self.take_observation()
        if observation is not None:
            observation.cancel()


def prestart_dataset(
    directory: Path, *, own_files: Sequence[Path], component: str | None
) -> TreeObservation | None:
    """Start observing ``directory`` for a `verify dataset` about to run (best effort)."""
    from chainguard.paths import component_name

    if not directory.is_dir():
        return None
    render = f"dataset:{component or component_name(directory)}"
    return TreeObservation(directory, own_files=own_files, render=render)
