"""The prestart of `chainguard verify dataset` (chainguard/_launch.py, observe.EarlyStart):
hashing starts before the CLI is imported when the signed bundle is large, and verify_tree
adopts that work only when it is exactly what it would have started itself. Either way the
report is the one a verify without prestart writes."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import DEPLOYMENT
from support.cli import assert_one_line_error, chainguard_script, cli, report, run_process
from support.fastpath import BIG_BUNDLE, observing_threads, report_view
from support.release import Release, make_release

from chainguard import _launch, api
from chainguard.errors import ChainguardError
from chainguard.findings import Report
from chainguard.observe import EarlyStart

NEVER = 1 << 62  # api.OVERLAP_FROM_BYTES no bundle reaches: the plain path


def files() -> dict[str, bytes]:
    tree = {f"shard/{i:03d}.jsonl": b'{"row": %d}\n' % i for i in range(40)}
    return tree | {"README.md": b"# data\n", "é/ça.txt": b"cafe"}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """A real release whose signed bundle reaches the overlap threshold (a long description pads
    the SBOM)."""
    release = make_release(
        tmp_path_factory.mktemp("big"),
        datasets={"ds": files()},
        sbom_name="ds.cdx.json",
        pad_to=BIG_BUNDLE,
    )
    assert release.sig.stat().st_size >= api.OVERLAP_FROM_BYTES
    return release


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Release:
    return make_release(
        tmp_path_factory.mktemp("small"), datasets={"ds": files()}, sbom_name="ds.cdx.json"
    )


@pytest.fixture(autouse=True)
def early() -> Iterator[EarlyStart]:
    """The handle _launch fills and verify takes; whatever a test leaves prestarted is cancelled:
    no hashing thread outlives a test."""
    handle = EarlyStart()
    yield handle
    handle.cancel()
    assert observing_threads() == []


def argv(release: Release, *extra: str, directory: Path | None = None) -> list[str]:
    """The command line, with the deployment pinned as release.trust() pins it (the prestart
    reads only --sbom, --signature and --component: other options leave it on)."""
    target = str(directory or release.data)
    return ["verify", "dataset", target, "--sbom", str(release.sbom), "--key", str(release.pub),
            "--deployment", DEPLOYMENT, *extra]  # fmt: skip


def plain_verify(
    release: Release,
    monkeypatch: pytest.MonkeyPatch,
    *,
    directory: Path | None = None,
    component: str | None = None,
    ignore: tuple[str, ...] = (),
) -> Report:
    """verify_tree without prestart and without the fast path."""
    return api.verify_tree(
        directory or release.data,
        kind="dataset",
        trust=release.trust(),
        component=component,
        ignore=ignore,
        overlap_from_bytes=NEVER,
    )


def launch(args: list[str], early: EarlyStart) -> None:
    """What chainguard/_launch.py starts for ``args``, handed to this test's ``early``."""
    started = _launch._prestart(args)
    if started is not None:
        early.observation = started.take_observation()
        early.sbom_digests.update(started.sbom_digests)


def prestarted(early: EarlyStart, args: list[str]) -> api.TreeObservation:
    launch(args, early)
    observation = early.observation
    assert observation is not None, args
    return observation


def adopted(observation: api.TreeObservation) -> bool:
    # verify takes the result of the observation it adopts (result() lets go of its runs);
    # one it does not adopt is cancelled unread
    return observation.runs is None


# --- the decision: only the bundle's size, the command and the directory ----------------------


def test_a_small_bundle_starts_nothing(small: Release, early: EarlyStart) -> None:
    launch(argv(small), early)
    assert early.observation is None


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that costs no disk: the decision only stats it."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


@pytest.fixture
def padded(tmp_path: Path) -> tuple[Path, Path]:
    """A directory, and an SBOM path whose .sig is BIG_BUNDLE bytes of nothing."""
    data = tmp_path / "corpus"
    data.mkdir()
    (data / "f.txt").write_bytes(b"f")
    sbom = tmp_path / "corpus.cdx.json"
    sbom.write_text("{}")
    sparse(Path(f"{sbom}.sig"), BIG_BUNDLE)
    return data, sbom


@pytest.mark.parametrize(
    "options",
    [
        ["--sbom", "{sbom}"],
        ["--sbom={sbom}"],
        ["--signature", "{sbom}.sig"],
        ["--signature={sbom}.sig", "--format", "json"],
        ["--sbom", "{sbom}", "--ignore", "*.tmp"],  # ignore is checked when verify adopts
    ],
)
def test_a_large_bundle_starts_hashing_the_directory(
    padded: tuple[Path, Path], options: list[str], early: EarlyStart
) -> None:
    data, sbom = padded
    observation = prestarted(
        early, ["verify", "dataset", str(data), *(o.format(sbom=sbom) for o in options)]
    )
    assert observation.directory == data
    assert observation.render == "dataset:corpus"


def test_the_component_named_is_the_one_rendered(
    padded: tuple[Path, Path], early: EarlyStart
) -> None:
    data, sbom = padded
    observation = prestarted(early, ["verify", "dataset", str(data), "--sbom", str(sbom),
                              "--component", "first", "--component", "last"])  # fmt: skip
    assert observation.render == "dataset:last"  # the value typer keeps


def test_signature_sizes_add_up(
    padded: tuple[Path, Path], tmp_path: Path, early: EarlyStart
) -> None:
    data, _ = padded
    one = sparse(tmp_path / "one.sig", BIG_BUNDLE // 2)
    two = sparse(tmp_path / "two.sig", BIG_BUNDLE // 2)
    prestarted(
        early, ["verify", "dataset", str(data), "--signature", str(one), "--signature", str(two)]
    )


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "dataset", "{data}", "--sbom", "{sbom}", "--help"],
        ["verify", "dataset", "{data}", "--sbom", "{sbom}", "--", "x"],
        ["verify", "dataset", "--sbom", "{sbom}", "{data}"],  # DIR not where it is looked for
        ["verify", "model", "{data}", "--sbom", "{sbom}"],
        ["verify", "deployment", "--sbom", "{sbom}"],
        ["verify", "dataset", "{data}/f.txt", "--sbom", "{sbom}"],  # not a directory
        ["verify", "dataset", "{data}/missing", "--sbom", "{sbom}"],
        ["verify", "dataset", "{data}", "--signature", "{data}/f.txt"],  # small signature
        ["verify", "dataset", "{data}", "--sbom", "{data}/nothing.json"],  # no .sig at all
        ["verify", "dataset", "{data}"],
        ["verify", "dataset"],
        [],
    ],
)
def test_anything_else_starts_nothing(
    padded: tuple[Path, Path], args: list[str], early: EarlyStart
) -> None:
    data, sbom = padded
    launch([a.format(data=data, sbom=sbom) for a in args], early)
    assert early.observation is None


def test_one_byte_below_the_threshold_starts_nothing(
    padded: tuple[Path, Path], early: EarlyStart
) -> None:
    data, sbom = padded
    sparse(Path(f"{sbom}.sig"), BIG_BUNDLE - 1)
    launch(["verify", "dataset", str(data), "--sbom", str(sbom)], early)
    assert early.observation is None


def test_the_launcher_threshold_is_the_api_one() -> None:
    assert _launch._LARGE_BUNDLE == api.OVERLAP_FROM_BYTES


# --- adoption: only the very same work --------------------------------------------------------


def test_adopted_when_directory_rules_and_component_match(
    big: Release, monkeypatch: pytest.MonkeyPatch, early: EarlyStart
) -> None:
    observation = prestarted(early, argv(big))
    fast = api.verify_tree(big.data, kind="dataset", trust=big.trust(), early=early)
    assert early.observation is None
    assert adopted(observation)
    assert report_view(fast) == report_view(plain_verify(big, monkeypatch))
    assert fast.ok


def test_adopted_through_another_spelling_of_the_directory(
    big: Release, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, early: EarlyStart
) -> None:
    link = tmp_path / "link"
    link.symlink_to(big.data.parent)
    observation = prestarted(early, argv(big, directory=link / big.data.name))
    fast = api.verify_tree(Path(f"{big.data}/"), kind="dataset", trust=big.trust(), early=early)
    assert adopted(observation)
    assert report_view(fast) == report_view(plain_verify(big, monkeypatch))


def test_adopted_with_the_sbom_inside_the_directory(
    big: Release, monkeypatch: pytest.MonkeyPatch, early: EarlyStart
) -> None:
    # The SBOM and its signature are left out of the tree alike by the prestart and verify.
    inner = big.moved_to(big.data)
    shutil.copy(big.sbom, inner.sbom)
    shutil.copy(big.sig, inner.sig)
    try:
        observation = prestarted(early, argv(inner))
        fast = api.verify_tree(inner.data, kind="dataset", trust=inner.trust(), early=early)
        assert adopted(observation)
        assert report_view(fast) == report_view(plain_verify(inner, monkeypatch))
        assert fast.ok
    finally:
        inner.sbom.unlink()
        inner.sig.unlink()


def test_adopted_then_a_tampered_file_is_still_found(
    big: Release, monkeypatch: pytest.MonkeyPatch, early: EarlyStart
) -> None:
    victim = big.data / "shard" / "017.jsonl"
    before = victim.read_bytes()
    victim.write_bytes(b"poisoned\n")
    try:
        observation = prestarted(early, argv(big))
        fast = api.verify_tree(big.data, kind="dataset", trust=big.trust(), early=early)
        assert adopted(observation)
        assert report_view(fast) == report_view(plain_verify(big, monkeypatch))
    finally:
        victim.write_bytes(before)
    assert [(f.rule, f.path) for f in fast.findings] == [
        ("artifact-modified", "shard/017.jsonl"),
        ("format-changed", "shard/017.jsonl"),  # JSON lines, now plain text
    ]


def test_cancelled_when_the_component_differs(
    big: Release, monkeypatch: pytest.MonkeyPatch, early: EarlyStart
) -> None:
    observation = prestarted(early, argv(big, "--component", "elsewhere"))
    fast = api.verify_tree(big.data, kind="dataset", trust=big.trust(), early=early)
    assert not adopted(observation) and observation.cancelled.is_set()
    assert report_view(fast) == report_view(plain_verify(big, monkeypatch))


def test_cancelled_when_verify_names_another_component(
    big: Release, monkeypatch: pytest.MonkeyPatch, early: EarlyStart
) -> None:
    observation = prestarted(early, argv(big))
    with pytest.raises(ChainguardError) as raised:
        api.verify_tree(big.data, kind="dataset", trust=big.trust(), component="other", early=early)
    assert not adopted(observation) and observation.cancelled.is_set()
    with pytest.raises(type(raised.value)) as plain:
        plain_verify(big, monkeypatch, component="other")
    assert str(plain.value) == str(raised.value)


def test_cancelled_when_the_ignore_rules_differ(
    big: Release, monkeypatch: pytest.MonkeyPatch, early: EarlyStart
) -> None:
    observation = prestarted(early, argv(big))
    fast = api.verify_tree(
        big.data, kind="dataset", trust=big.trust(), ignore=["README.md"], early=early
    )
    assert not adopted(observation) and observation.cancelled.is_set()
    plain = plain_verify(big, monkeypatch, ignore=("README.md",))
    assert report_view(fast) == report_view(plain)
    assert [(f.rule, f.path) for f in fast.findings] == [("artifact-missing", "README.md")]


def test_cancelled_when_the_directory_differs(
    big: Release, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, early: EarlyStart
) -> None:
    # Another directory of the same name (so the same component): not the prestarted one.
    other = tmp_path / big.data.name
    shutil.copytree(big.data, other)
    (other / "README.md").write_bytes(b"# changed\n")
    observation = prestarted(early, argv(big))
    fast = api.verify_tree(other, kind="dataset", trust=big.trust(), early=early)
    assert not adopted(observation) and observation.cancelled.is_set()
    assert report_view(fast) == report_view(plain_verify(big, monkeypatch, directory=other))
    assert [(f.rule, f.path) for f in fast.findings] == [("artifact-modified", "README.md")]


def test_cancelled_when_verify_reads_a_small_bundle(
    small: Release, padded: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, early: EarlyStart
) -> None:
    _, sbom = padded
    observation = prestarted(
        early, ["verify", "dataset", str(small.data), "--signature", f"{sbom}.sig"]
    )
    fast = api.verify_tree(small.data, kind="dataset", trust=small.trust(), early=early)
    assert not adopted(observation) and observation.cancelled.is_set()
    assert report_view(fast) == report_view(plain_verify(small, monkeypatch))


def test_cancelled_when_trust_fails(big: Release, tmp_path: Path, early: EarlyStart) -> None:
    _, other_pub = api.keygen(tmp_path / "stranger")
    observation = prestarted(early, argv(big))
    trust = api.TrustInputs(
        sbom=big.sbom, signatures=(), keys=(other_pub,), state_dir=tmp_path / "state"
    )
    fast = api.verify_tree(big.data, kind="dataset", trust=trust, early=early)
    assert observation.cancelled.is_set()
    assert [f.rule for f in fast.findings] == ["signature-untrusted"]
    assert fast.stats.files == 0  # nothing compared before trust


# --- through the real executable ----------------------------------------------------------------


def run(args: list[str], cwd: Path) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    outcome = run_process([chainguard_script(), *args], cwd=cwd)
    return outcome.code, outcome.stdout, outcome.stderr, time.perf_counter() - started


def findings_of(doc: dict[str, object]) -> list[tuple[object, ...]]:
    found = doc["findings"]
    assert isinstance(found, list)
    keys = ("rule", "path", "message", "expected", "actual")
    return sorted(tuple(f.get(k) for k in keys) for f in found)


def test_the_executable_verifies_a_large_release(big: Release, tmp_path: Path) -> None:
    code, stdout, stderr, _ = run([*argv(big), "--format", "json"], tmp_path)
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["ok"] is True and doc["findings"] == []


def test_the_executable_reports_what_the_plain_path_reports(
    big: Release, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = big.data / "shard" / "003.jsonl"
    before = victim.read_bytes()
    victim.write_bytes(b"poisoned\n")
    (big.data / "shard" / "new.jsonl").write_bytes(b"{}\n")
    (big.data / "é" / "ça.txt").unlink()
    try:
        code, stdout, stderr, _ = run([*argv(big), "--format", "json"], tmp_path)
        in_process = cli(*argv(big), "--format", "json")
    finally:
        victim.write_bytes(before)
        (big.data / "shard" / "new.jsonl").unlink()
        (big.data / "é" / "ça.txt").write_bytes(b"cafe")
    assert code == in_process.code == 1, stderr
    assert findings_of(report(in_process)) == findings_of(json.loads(stdout))
    assert [f[:2] for f in findings_of(json.loads(stdout))] == [
        ("artifact-missing", "é/ça.txt"),
        ("artifact-modified", "shard/003.jsonl"),
        ("artifact-unexpected", "shard/new.jsonl"),
        ("format-changed", "shard/003.jsonl"),  # JSON lines, now plain text
    ]


def test_the_executable_with_a_large_unreadable_bundle_is_one_line_exit_3(
    padded: tuple[Path, Path], small: Release, tmp_path: Path
) -> None:
    # The prestart hashes; verify then finds the bundle is not JSON: exit 3, one line, promptly.
    data, sbom = padded
    code, stdout, stderr, seconds = run(
        ["verify", "dataset", str(data), "--sbom", str(sbom), "--key", str(small.pub)], tmp_path
    )
    from support.cli import Outcome

    assert_one_line_error(Outcome(code, stdout, stderr), 3)
    assert seconds < 30


def test_the_executable_with_a_usage_error_after_a_prestart_exits_2(
    big: Release, tmp_path: Path
) -> None:
    code, _, stderr, seconds = run([*argv(big), "--format", "no-such-format"], tmp_path)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert seconds < 30
    assert os.listdir(tmp_path) == []  # nothing written
