"""The format policy over a dataset hashed on a Dask cluster from an object store
(collectors/dask_tree.py): api/_formats.format_findings, with the files it reads again read by
a worker, where the bytes are."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainguard.api._formats import _DEFAULT, _selected
from chainguard.collectors import _daskworker, dask_tree
from chainguard.collectors.dask_tree import DaskCluster
from chainguard.formats.detect import INSPECTED
from chainguard.models import ObservedTree

if TYPE_CHECKING:
    from chainguard.findings import Finding
    from chainguard.formats.policy import FormatPolicy


def remote_format_findings(
    client: Any,
    tree: ObservedTree,
    source: str,
    cluster: DaskCluster,
    policy: FormatPolicy | None,
    component: str | None = None,
) -> list[Finding]:
    """api/_formats.format_findings for an object store: the files it reads again are copied
    to and inspected on a worker; the rest is judged from the format detected while hashing."""
    from dataclasses import replace

    from chainguard.formats.inspect import Inspection
    from chainguard.formats.policy import evaluate

    policy = policy or _DEFAULT
    location = dask_tree.location_of(source, cluster)
    prefix = dask_tree.prefix_of(source, cluster)
    found: list[Finding] = []
    pending = []
    for path, fmt in sorted(_selected(tree.files, policy)):
        if fmt in INSPECTED:
            pending.append(
                client.submit(
                    _daskworker.scan_copy, location, prefix + path, path, policy, pure=False
                )
            )
        else:
            found += evaluate(path, Inspection(fmt), policy)
    for future in pending:
        found += dask_tree.result_of(future)
    found.sort(key=lambda f: f.path)
    return [replace(f, component=component) for f in found] if component else found
