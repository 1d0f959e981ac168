"""compare_process: a process's mapped and open files against verified trees and environments."""

from __future__ import annotations

from chainguard.collectors.procfs import LoadedFile, ProcessSnapshot
from chainguard.compare_process import (
    ProcessComparison,
    VerifiedEnvironment,
    VerifiedTree,
    compare_process,
    judge_hashed,
    process_verdict,
)
from chainguard.findings import Severity
from chainguard.models import FileDigest

SIGNED = "a" * 64
OTHER = "b" * 64
TREE = VerifiedTree(
    "model:m",
    "m",
    "/srv/m",
    {"w.bin": FileDigest("w.bin", 10, SIGNED), "cfg.json": FileDigest("cfg.json", 2, OTHER)},
    {"w.bin": (1, 100), "cfg.json": (1, 101)},
    frozenset({"notes.txt"}),
)
SITE = "/venv/lib/python3.11/site-packages"
ENV = VerifiedEnvironment(
    "venv",
    (SITE, "/venv"),
    {f"{SITE}/pkg/_a.so": "pkg", f"{SITE}/pkg/_b.so": "pkg", f"{SITE}/pkg/_c.so": "pkg"},
    {f"{SITE}/pkg/_a.so": (1, 200), f"{SITE}/pkg/_b.so": (1, 201)},
)


def loaded(path: str, inode: int, *, deleted: bool = False, x: bool = False) -> LoadedFile:
    return LoadedFile(path, 1, inode, deleted, x, f"/proc/7/map_files/{inode:x}-{inode + 1:x}")


def compare(*files: LoadedFile, exe: str | None = "/usr/bin/python3.11") -> ProcessComparison:
    return compare_process(ProcessSnapshot(7, 1, exe, files, True), [TREE], [ENV])


def test_the_verified_files_pass_without_hashing() -> None:
    result = compare(loaded("/srv/m/w.bin", 100), loaded(f"{SITE}/pkg/_a.so", 200, x=True))
    assert (result.findings, result.to_hash, result.artifacts, result.native) == ([], [], 1, 1)


def test_a_replaced_or_deleted_artifact_is_hashed_then_judged_by_content() -> None:
    result = compare(loaded("/srv/m/w.bin", 999), loaded("/srv/m/cfg.json", 101, deleted=True))
    assert sorted(i.rel for i in result.to_hash) == ["cfg.json", "w.bin"]
    item = next(i for i in result.to_hash if i.rel == "w.bin")
    assert judge_hashed(7, item, SIGNED) is None  # a copy of the signed content passes
    finding = judge_hashed(7, item, OTHER)
    assert finding is not None and finding.rule == "loaded-artifact-replaced"
    assert (finding.expected, finding.actual) == (f"sha256:{SIGNED}", f"sha256:{OTHER}")
    assert "does not run the signed weights" in finding.message


def test_an_unsigned_file_of_a_model_root_is_unexpected_unless_ignored() -> None:
    result = compare(loaded("/srv/m/extra.bin", 5), loaded("/srv/m/notes.txt", 6))
    assert [(f.rule, f.path) for f in result.findings] == [
        ("loaded-artifact-unexpected", "/srv/m/extra.bin")
    ]


def test_files_outside_every_root_are_not_judged() -> None:
    result = compare(loaded("/srv/mm/w.bin", 5), loaded("/usr/lib/libc.so.6", 6, x=True))
    assert (result.findings, result.to_hash) == ([], [])


def test_native_code_a_record_does_not_vouch_for() -> None:
    result = compare(
        loaded(f"{SITE}/evil.so", 300, deleted=True, x=True),  # dropped in, deleted
        loaded(f"{SITE}/pkg/_a.so", 999, x=True),  # replaced on disk after loading
        loaded(f"{SITE}/pkg/_b.so", 201, deleted=True, x=True),
        loaded(f"{SITE}/pkg/_c.so", 202, x=True),  # on disk, but not matching its RECORD
        loaded(f"{SITE}/pkg/data.bin", 203),  # mapped data, not code: not judged
    )
    why = {f.path.rsplit("/", 1)[1]: f.message for f in result.findings}
    assert {f.rule for f in result.findings} == {"loaded-from-unverified-path"}
    assert "no RECORD lists it" in why["evil.so"]
    assert "replaced after it was loaded" in why["_a.so"]
    assert "deleted on disk after it was loaded" in why["_b.so"]
    assert "does not match pkg's RECORD" in why["_c.so"]
    assert result.native == 0


def test_the_interpreter_itself_is_left_to_the_note() -> None:
    exe = "/venv/bin/python3.11"
    result = compare(loaded(exe, 400, x=True), exe=exe)
    assert result.findings == []


def test_the_verdict_says_plainly_whether_the_weights_are_the_signed_ones() -> None:
    snap = ProcessSnapshot(7, 1, None, (), True)
    clean = compare(loaded("/srv/m/w.bin", 100))
    verdict = process_verdict(snap, clean, [], "note")
    assert verdict is not None and verdict.rule == "process-verified"
    assert "process 7 runs the signed weights" in verdict.message
    assert verdict.effective_severity is Severity.NOTE

    item = compare(loaded("/srv/m/w.bin", 999)).to_hash[0]
    replaced = judge_hashed(7, item, OTHER)
    assert replaced is not None
    assert process_verdict(snap, clean, [replaced], "note") is None

    nothing = compare()
    blind = process_verdict(snap, nothing, [], "note")
    assert blind is not None and blind.effective_severity is Severity.WARNING
    assert "no file of the verified models or datasets" in blind.message
