"""benchmarks/bench_sign.py still runs end to end (a tiny tree; timings are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sign.py"


@pytest.mark.slow
def test_bench_sign_prints_every_row_and_the_payloads_match(tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH), "--data-dir", str(tmp_path), "--files", "300"]
    argv += ["--dirs", "3"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "streamed payload == whole-statement payload: True" in proc.stdout
    rows = {line.split("|")[1].strip() for line in proc.stdout.splitlines() if line.count("|") > 4}
    assert {"sbom build", "sign", "sign whole", "verify"} <= rows
    assert not any(p.name.startswith("bench-sign-") for p in tmp_path.iterdir())  # cleaned up
