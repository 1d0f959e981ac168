"""What site-packages holds beyond its RECORDs: files no RECORD lists (a dropped-in ``.pth``
runs code at every start), sourceless bytecode Python would import, and the ``__pycache__``
bytecode to compare with its sources (collectors/bytecode.py checks it)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Set
from pathlib import Path

from chainguard.collectors import bytecode as bc
from chainguard.models import RecordProblem


def find_unlisted(
    site: Path, listed: Mapping[str, str], hashed: Set[str], skip_dirs: Set[str]
) -> tuple[list[RecordProblem], list[bc.CachedPyc]]:
    """Files (and linked directories) in ``site`` that no RECORD lists, sourceless bytecode,
    and the ``__pycache__`` files to compare with their sources.

    ``listed``: every path RECORDs list (full path → distribution); ``hashed``: those listed
    with a digest; ``skip_dirs``: metadata directories of installs that cannot be verified.
    """
    found = _Walk(os.path.realpath(site), listed, hashed, skip_dirs)
    found.walk()
    return found.problems, found.cached


class _Walk:
    def __init__(
        self, site_real: str, listed: Mapping[str, str], hashed: Set[str], skip_dirs: Set[str]
    ) -> None:
        self.site_real = site_real
        self.listed, self.hashed, self.skip_dirs = listed, hashed, skip_dirs
        self.problems: list[RecordProblem] = []
        self.cached: list[bc.CachedPyc] = []

    def walk(self) -> None:
        for dirpath, dirnames, filenames in os.walk(self.site_real, onerror=self._unreadable):
            if os.path.normpath(dirpath) in self.skip_dirs:
                dirnames[:] = []
                continue
            if os.path.basename(dirpath) == "__pycache__":
                dirnames[:] = []
                self._pycache(dirpath, filenames)
                continue
            linked = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            dirnames[:] = sorted(d for d in dirnames if d not in linked)
            present = set(filenames)
            for name in sorted([*filenames, *linked]):
                full = os.path.normpath(os.path.join(dirpath, name))
                rel = self._rel(full)
                if name.endswith(".pyc") and name[:-1] not in present and full not in self.hashed:
                    self.problems.append(self._sourceless(rel, name, full))
                elif full not in self.listed and full not in self.skip_dirs:
                    self.problems.append(_unlisted_problem(rel))

    def _rel(self, full: str) -> str:
        return os.path.relpath(full, self.site_real).replace(os.sep, "/")

    def _unreadable(self, error: OSError) -> None:
        # A directory we cannot list could hide anything: report it rather than skip it.
        where = os.path.relpath(error.filename or self.site_real, self.site_real)
        detail = f"cannot list: {error.strerror or error}"
        self.problems.append(
            RecordProblem(
                where.replace(os.sep, "/"), "unreadable", detail, "", "a readable directory", detail
            )
        )

    def _sourceless(self, rel: str, name: str, full: str) -> RecordProblem:
        """Imported sourceless when there is no mod.py (FileFinder's last resort)."""
        return bc.orphan(
            rel,
            f"Python imports this bytecode, for which there is no {name[:-1]}, as a module; "
            + ("its RECORD line has no hash" if full in self.listed else "no RECORD")
            + " vouches for it",
            self.listed.get(full, ""),
        )

    def _pycache(self, dirpath: str, filenames: list[str]) -> None:
        """One ``__pycache__`` directory: what no RECORD lists, untagged (importable) bytecode,
        and each ``.pyc`` whose source is there, to compare with it."""
        package = os.path.dirname(dirpath)
        for name in sorted(filenames):
            full = os.path.normpath(os.path.join(dirpath, name))
            rel = self._rel(full)
            if not name.endswith(".pyc"):
                if full not in self.listed:
                    self.problems.append(_unlisted_problem(rel))
                continue
            if name.count(".") == 1 and full not in self.hashed:
                # No importer writes an untagged name here; `import pkg.__pycache__.mod` loads it.
                self.problems.append(
                    bc.orphan(
                        rel,
                        "untagged bytecode in __pycache__: importable sourceless as a module of "
                        "the __pycache__ namespace package",
                        self.listed.get(full, ""),
                    )
                )
                continue
            parsed = bc.parse_cached_name(name)
            if parsed is None:
                continue
            module, tag, optimize = parsed
            source = os.path.join(package, module + ".py")
            if os.path.isfile(source):  # else never loaded: __pycache__ bytecode needs a source
                origin = self.listed.get(source, "")
                self.cached.append(bc.CachedPyc(full, source, rel, tag, optimize, origin))


def _unlisted_problem(rel: str) -> RecordProblem:
    return RecordProblem(
        path=rel,
        kind="unlisted",
        detail="no installed distribution's RECORD lists this file",
        expected="absent",
        actual="present",
    )
