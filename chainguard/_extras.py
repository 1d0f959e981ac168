"""Optional extras: which commands need which, and the one line saying so when one is missing.

A host that only verifies with keys installs ``chainguard`` alone; Sigstore keyless needs
``chainguard[sigstore]`` and ``sbom build`` needs ``chainguard[build]`` (benchmarks/README.md,
"Install footprint", has what the split saves).
"""

from __future__ import annotations

import importlib.util
from typing import Literal

from chainguard.errors import MissingExtraError

Extra = Literal["sigstore", "build", "fleet"]

# extra -> (the top-level modules it installs that chainguard imports, what needs them)
_EXTRAS: dict[Extra, tuple[tuple[str, ...], str]] = {
    "sigstore": (("sigstore",), "Sigstore keyless"),
    # json-validation's jsonschema: sbom build validates against the CycloneDX schema
    "build": (("cyclonedx", "jsonschema"), "sbom build"),
    # oras: the OCI registry client of attest --publish and fleet status (chainguard/fleet/oci.py)
    "fleet": (("oras",), "publishing to an OCI registry (attest --publish, fleet status)"),
}


def require_extra(extra: Extra) -> None:
    """Raise MissingExtraError unless ``extra``'s modules are installed (found, not imported:
    the caller imports what it uses)."""
    modules, needed_by = _EXTRAS[extra]
    if any(importlib.util.find_spec(m) is None for m in modules):
        raise MissingExtraError(
            f"{needed_by} needs the '{extra}' extra: pip install 'chainguard[{extra}]'"
        )


# `--dask` (chainguard/collectors/dask_tree.py) needs these of the 'fleet' extra, not oras
_DASK_MODULES = ("distributed", "fsspec")


def require_dask() -> None:
    """Raise MissingExtraError unless what `--dask` imports is installed."""
    if any(importlib.util.find_spec(m) is None for m in _DASK_MODULES):
        raise MissingExtraError("--dask needs the 'fleet' extra: pip install 'chainguard[fleet]'")
