"""A real virtual environment for the dependency tests, and ways to tamper with it.

One venv per test session (``deps_venv`` in tests/conftest.py): ``python -m venv
--without-pip`` (fast: no ensurepip) and two tiny wheels built here with zipfile, installed by
the pip running the tests (``pip --python VENV/bin/python install --no-index --no-deps``), so
RECORD, INSTALLER, console scripts in ``bin/`` and bytecode are exactly what pip writes.
Tests that tamper work on a copy (``copy_venv``).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import shutil
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

from support.release import make_release


@dataclass(frozen=True)
class DepsVenv:
    path: Path  # the venv directory (named "venv")
    python: Path  # its interpreter
    site_packages: Path
    wheels: tuple[Path, ...]


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def build_wheel(
    out_dir: Path,
    name: str,
    version: str,
    modules: dict[str, str] | dict[str, bytes],
    console_scripts: dict[str, str] | None = None,
) -> Path:
    """A wheel: the modules (text, or bytes such as a compiled extension), METADATA, WHEEL,
    entry points and RECORD."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files: dict[str, bytes] = {
        path: text.encode() if isinstance(text, str) else text for path, text in modules.items()
    }
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: chainguard test distribution\n\n{name} long description.\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: chainguard-tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    )
    if console_scripts:
        lines = "".join(f"{k} = {v}\n" for k, v in console_scripts.items())
        files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{lines}".encode()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        writer.writerow([path, record_hash(data), str(len(data))])
    writer.writerow([f"{info}/RECORD", "", ""])
    files[f"{info}/RECORD"] = record.getvalue().encode()
    wheel = out_dir / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            z.writestr(path, data)
    return wheel


def make_venv(directory: Path) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(directory)
    return directory


def venv_python(directory: Path) -> Path:
    return directory / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def site_packages(directory: Path) -> Path:
    found = sorted(directory.glob("lib/python*/site-packages")) or [directory / "Lib/site-packages"]
    return found[0]


def pip_install(directory: Path, *args: Path | str) -> None:
    """pip install (wheels and options) into the venv, with the pip running the tests."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv_python(directory)),
            "--disable-pip-version-check",
            "--no-input",
            "install",
            "--no-index",
            "--no-deps",
            "--no-cache-dir",
            *map(str, args),
        ],
        check=True,
        capture_output=True,
    )


def build_deps_venv(root: Path) -> DepsVenv:
    wheels_dir = root / "wheels"
    wheels_dir.mkdir()
    tiny = build_wheel(
        wheels_dir,
        "tinypkg",
        "1.0.0",
        {
            "tinypkg/__init__.py": '"""A tiny package."""\n\nVERSION = "1.0.0"\n',
            "tinypkg/core.py": "def answer() -> int:\n    return 42\n",
            "tinypkg/cli.py": "def main() -> None:\n    print('tiny')\n",
        },
        console_scripts={"tinypkg-cli": "tinypkg.cli:main"},
    )
    helper = build_wheel(
        wheels_dir,
        "helper-lib",
        "0.3.1",
        {"helper_lib.py": "def helps() -> bool:\n    return True\n"},
    )
    path = make_venv(root / "venv")
    pip_install(path, tiny, helper)
    return DepsVenv(path, venv_python(path), site_packages(path), (tiny, helper))


def copy_venv(source: DepsVenv, directory: Path) -> DepsVenv:
    """A copy with the same name ("venv"), to tamper with."""
    target = directory / source.path.name
    shutil.copytree(source.path, target, symlinks=True)
    return DepsVenv(target, venv_python(target), site_packages(target), source.wheels)


def rewrite_record(site: Path, dist_info: str, changed: dict[str, bytes]) -> None:
    """Change installed files AND their RECORD lines consistently (what a careful attacker
    does): the files then match RECORD, and only the RECORD digest gives it away."""
    record_path = site / dist_info / "RECORD"
    rows = list(csv.reader(io.StringIO(record_path.read_text())))
    for relpath, data in changed.items():
        (site / relpath).write_bytes(data)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        if row and row[0] in changed:
            data = changed[row[0]]
            row = [row[0], record_hash(data), str(len(data))]
        writer.writerow(row)
    record_path.write_text(out.getvalue())


def dist_info_of(site: Path, prefix: str) -> str:
    return next(p.name for p in site.iterdir() if p.name.startswith(prefix + "-"))


def signed_sbom(
    directory: Path,
    *,
    requirements: tuple[Path, ...] = (),
    locks: tuple[Path, ...] = (),
    envs: tuple[Path, ...] = (),
) -> tuple[Path, Path]:
    """A dependencies-only release (make_release): returns (sbom, trusted public key)."""
    release = make_release(
        directory,
        requirements=requirements,
        locks=locks,
        envs=envs,
        version="1.0.0",
        sbom_name="deps.cdx.json",
    )
    return release.sbom, release.pub
