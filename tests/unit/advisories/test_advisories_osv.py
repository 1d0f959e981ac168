"""Reading OSV records (chainguard/advisories/osv.py): a directory tree, a zip, one file; the
caps, zip bombs and malformed records, each one line naming the file."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support.advisories import (
    TORCH_CVE,
    TORCH_GHSA,
    osv_record,
    torch_ghsa,
    torch_pysec,
    write_records,
    write_zip,
)

from chainguard.advisories.osv import Advisory, Limits, parse_record, read_advisories
from chainguard.advisories.ranges import AffectedVersions, Event, VersionRange
from chainguard.errors import AdvisoryError, InputError


def test_a_record_is_reduced_to_its_pypi_packages() -> None:
    (advisory,) = read_one(torch_ghsa())
    assert advisory.id == TORCH_GHSA
    assert advisory.aliases == (TORCH_CVE,)
    assert advisory.summary.startswith("PyTorch: `torch.load`")
    assert advisory.affected == (
        AffectedVersions(
            "torch",
            (VersionRange("ECOSYSTEM", (Event("introduced", "0"), Event("fixed", "2.6.0"))),),
        ),
    )
    assert advisory.ids == {TORCH_GHSA.upper(), TORCH_CVE}


def read_one(record: dict[str, Any]) -> list[Advisory]:
    advisory = parse_record(json.dumps(record).encode(), "rec.json")
    return [] if advisory is None else [advisory]


def test_names_are_normalised_and_other_ecosystems_left_out() -> None:
    record = osv_record("GHSA-x", "Pillow_SIMD", [{"introduced": "0"}])
    record["affected"].append(
        {"package": {"ecosystem": "npm", "name": "left-pad"}, "versions": ["1.0.0"]}
    )
    (advisory,) = read_one(record)
    assert [a.package for a in advisory.affected] == ["pillow-simd"]
    assert read_one(osv_record("GHSA-y", "left-pad", [{"introduced": "0"}], ecosystem="npm")) == []


def test_withdrawn_records_are_left_out() -> None:
    record = torch_ghsa()
    record["withdrawn"] = "2025-05-01T00:00:00Z"
    assert read_one(record) == []


def test_a_directory_tree(tmp_path: Path) -> None:
    root = write_records(tmp_path / "osv", torch_ghsa())
    write_records(root / "nested", torch_pysec())
    (root / "README.md").write_text("not a record")
    found = read_advisories(root)
    assert sorted(a.id for a in found) == ["GHSA-53q9-r3pm-6pq6", "PYSEC-2025-41"]
    assert found[0].source.endswith(".json")


@pytest.mark.skipif(sys.platform == "win32", reason="fifo and symlinks")
def test_a_directory_passes_over_links_and_special_files(tmp_path: Path) -> None:
    root = write_records(tmp_path / "osv", torch_ghsa())
    outside = write_records(tmp_path / "outside", torch_pysec())
    (root / "linked.json").symlink_to(outside / "PYSEC-2025-41.json")
    (root / "linked-dir").symlink_to(outside)
    os.mkfifo(root / "fifo.json")  # reading it would block forever
    assert [a.id for a in read_advisories(root)] == [TORCH_GHSA]


def test_a_zip_and_one_file(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "all.zip",
        {f"{TORCH_GHSA}.json": torch_ghsa(), "PYSEC-2025-41.json": torch_pysec(), "x.txt": b"?"},
    )
    assert [a.id for a in read_advisories(archive)] == [TORCH_GHSA, "PYSEC-2025-41"]
    assert read_advisories(archive)[0].source == f"{archive}:{TORCH_GHSA}.json"
    single = write_records(tmp_path / "one", torch_ghsa()) / f"{TORCH_GHSA}.json"
    assert [a.id for a in read_advisories(single)] == [TORCH_GHSA]


def test_zip_entry_names_are_never_paths_on_disk(tmp_path: Path) -> None:
    """Entries named to escape a directory are read in memory like any other."""
    archive = write_zip(tmp_path / "all.zip", {"../../etc/evil.json": torch_ghsa()})
    assert [a.id for a in read_advisories(archive)] == [TORCH_GHSA]
    assert not (tmp_path.parent.parent / "etc" / "evil.json").exists()


def one_line(error: pytest.ExceptionInfo[AdvisoryError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    assert isinstance(error.value, InputError)
    return message


def test_a_record_over_the_size_cap(tmp_path: Path) -> None:
    record = torch_ghsa()
    record["details"] = "x" * 5000
    root = write_records(tmp_path / "osv", record)
    with pytest.raises(AdvisoryError) as e:
        read_advisories(root, Limits(record_bytes=4096))
    assert f"{TORCH_GHSA}.json: advisory record larger than 4096 bytes" in one_line(e)


def test_a_zip_bomb_entry_stops_at_the_cap(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "all.zip", {"BOMB.json": b" " * (64 * 1024 * 1024)})
    assert archive.stat().st_size < 200_000
    with pytest.raises(AdvisoryError) as e:
        read_advisories(archive)
    assert f"{archive}:BOMB.json: advisory record larger than" in one_line(e)


def test_a_zip_entry_that_lies_about_its_size(tmp_path: Path) -> None:
    """The header says 100 bytes, the entry inflates to 1 MiB: caught while inflating."""
    archive = write_zip(tmp_path / "all.zip", {"LIE.json": b" " * (1024 * 1024)})
    patch_declared_size(archive, "LIE.json", 100)
    with pytest.raises(AdvisoryError) as e:
        read_advisories(archive, Limits(record_bytes=4096))
    message = one_line(e)
    assert f"{archive}:LIE.json" in message


def patch_declared_size(archive: Path, name: str, size: int) -> None:
    """Rewrite the uncompressed size in the entry's local and central directory headers."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(name)
    local = info.header_offset
    data[local + 22 : local + 26] = size.to_bytes(4, "little")
    central = data.find(b"PK\x01\x02")
    data[central + 24 : central + 28] = size.to_bytes(4, "little")
    archive.write_bytes(bytes(data))


def test_too_many_records(tmp_path: Path) -> None:
    root = tmp_path / "osv"
    records = [osv_record(f"GHSA-{i}", "pkg", [{"introduced": "0"}]) for i in range(4)]
    write_records(root, *records)
    with pytest.raises(AdvisoryError) as e:
        read_advisories(root, Limits(records=3))
    assert "more than 3 advisory records" in one_line(e)
    archive = write_zip(tmp_path / "all.zip", {f"{r['id']}.json": r for r in records})
    with pytest.raises(AdvisoryError) as e:
        read_advisories(archive, Limits(records=3))
    assert "more than 3 advisory records" in one_line(e)


def test_too_many_bytes_in_all(tmp_path: Path) -> None:
    records = [osv_record(f"GHSA-{i}", "pkg", [{"introduced": "0"}]) for i in range(4)]
    root = write_records(tmp_path / "osv", *records)
    with pytest.raises(AdvisoryError) as e:
        read_advisories(root, Limits(total_bytes=1000))
    assert "more than 1000 bytes in all" in one_line(e)


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (lambda r: r.pop("id"), "id must be a non-empty string"),
        (lambda r: r.update(aliases="CVE-1"), "aliases must be a list of strings"),
        (lambda r: r.update(affected={}), "affected must be a list"),
        (lambda r: r["affected"][0].update(package="torch"), "package must be an object"),
        (lambda r: r["affected"][0]["package"].pop("name"), "needs an ecosystem and a name"),
        (lambda r: r["affected"][0].update(ranges=[{"type": "ECOSYSTEM"}]), "events must be"),
        (
            lambda r: r["affected"][0]["ranges"][0]["events"].append({"fixed": 2}),
            "fixed must be a version string",
        ),
        (
            lambda r: r["affected"][0]["ranges"][0]["events"].append({"patched": "1"}),
            "exactly one of introduced, fixed, last_affected, limit",
        ),
        (
            lambda r: r["affected"][0]["ranges"][0]["events"].append({"fixed": "1", "limit": "2"}),
            "exactly one of",
        ),
        (lambda r: r["affected"][0].update(versions=[1]), "versions must be a list of strings"),
    ],
)
def test_malformed_records(tmp_path: Path, mutate: object, says: str) -> None:
    record = torch_ghsa()
    mutate(record)  # type: ignore[operator]
    root = write_records(tmp_path / "osv", {**record, "id": record.get("id", "NOID")})
    if "id" not in record:
        (root / "NOID.json").write_text(json.dumps(record))
    with pytest.raises(AdvisoryError) as e:
        read_advisories(root)
    message = one_line(e)
    assert says in message and ".json" in message


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"id": "A", "id": "B"}', "duplicate JSON key 'id'"),
        (b'{"id": NaN}', "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "must be a JSON object"),
        (b'{"id": "A"', "not valid JSON"),
    ],
)
def test_not_strict_json(tmp_path: Path, content: bytes, says: str) -> None:
    archive = write_zip(tmp_path / "all.zip", {"BAD.json": content})
    with pytest.raises(AdvisoryError) as e:
        read_advisories(archive)
    assert f"{archive}:BAD.json: " in one_line(e) and says in str(e.value)


def test_unusable_paths(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryError, match="no such advisories"):
        read_advisories(tmp_path / "absent")
    other = tmp_path / "advisories.txt"
    other.write_text("hello")
    with pytest.raises(AdvisoryError, match=r"must be a directory, a zip or a \.json"):
        read_advisories(other)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(write_zip(tmp_path / "ok.zip", {"A.json": torch_ghsa()}).read_bytes()[:-30])
    with pytest.raises(AdvisoryError) as e:
        read_advisories(broken)
    assert str(broken) in one_line(e)


def test_only_the_measured_packages_are_looked_at_closely(tmp_path: Path) -> None:
    """Every record is strict JSON; the ranges of a package nobody measured are not read."""
    odd = osv_record("GHSA-odd", "unused-pkg", [{"introduced": "0"}])
    odd["affected"][0]["ranges"] = "not a list"
    root = write_records(tmp_path / "osv", torch_ghsa(), odd)
    assert [a.id for a in read_advisories(root, packages={"torch"})] == [TORCH_GHSA]
    with pytest.raises(AdvisoryError, match="ranges must be a list"):
        read_advisories(root, packages={"unused-pkg"})
    (root / "BAD.json").write_text("{")
    with pytest.raises(AdvisoryError, match="not valid JSON"):
        read_advisories(root, packages={"torch"})
