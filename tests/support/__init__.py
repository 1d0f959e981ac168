"""What the tests share: one release builder, one CLI runner, one place for SBOM surgery.

tests/ is on sys.path (``pythonpath`` in pyproject.toml), so tests import ``support.<module>``.
Environment isolation lives once, in tests/conftest.py.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = REPO_ROOT / "docs" / "report-schema.v2.json"  # the current report schema
DEPS_FIXTURES = REPO_ROOT / "fixtures" / "deps"
DEPLOYMENT = "svc"  # the deployment every release is built as; verify pins it, as operators do


def vectors_root() -> Path:
    """Interoperability vectors: $CHAINGUARD_VECTORS, else ../shared/vectors beside the repo.

    A function (not only the ``vectors_dir`` fixture) so that tests can parametrize over the
    vector suites' own folders at collection time."""
    configured = os.environ.get("CHAINGUARD_VECTORS")
    return Path(configured) if configured else REPO_ROOT / ".." / "shared" / "vectors"
