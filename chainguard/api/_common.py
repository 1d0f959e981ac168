"""What the workflows share: their own files in a tree, atomic writes, the signing password."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from chainguard.errors import OutputError

if TYPE_CHECKING:
    from chainguard.trust.gate import TrustInputs

CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def password() -> bytes | None:
    from chainguard.trust.keys import PASSWORD_ENV

    value = os.environ.get(PASSWORD_ENV)
    return value.encode() if value is not None else None


def own_files(trust: TrustInputs) -> list[Path]:
    """The SBOM and signature files verify must not count as artifacts when they sit in the tree.

    Mirrors build, which leaves out the SBOM and its bundle (SBOM.sigstore.json, or SBOM.sig as
    older releases named it): an SBOM written into the model directory and signed there with
    the default name must verify.
    """
    from chainguard.models import signature_paths

    own = [*trust.signatures]
    if trust.sbom is not None:
        own += [trust.sbom, *signature_paths(trust.sbom)]
    return own


def write_atomic(path: Path, data: bytes | Iterable[bytes], *, overwrite: bool) -> None:
    """Write ``data`` (bytes, or pieces of them made as they are written) to ``path`` through
    a temporary file: ``path`` is whole or untouched, whatever fails."""
    if not overwrite and path.exists():
        raise OutputError(f"{path}: already exists; refusing to overwrite")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            if isinstance(data, bytes):
                f.write(data)
            else:
                f.writelines(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {e.strerror or e}") from e
    except BaseException:  # making the pieces failed: no half-written file left behind
        tmp.unlink(missing_ok=True)
        raise
