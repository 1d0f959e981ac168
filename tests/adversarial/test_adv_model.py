"""Attacks on a model deployment, one per bullet of the issue's "What verify must catch".

Each scenario builds a real signed release in tmp_path (real keys, real SBOM, real Sigstore
bundle), attacks it, runs ``chainguard verify model`` through the CLI and asserts the exit code
and the exact finding (rule, path, expected and actual) in the JSON report.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.release import MODEL_FILES, Release, make_release, write_tree
from support.surgery import new_file_node, reseal, resign, sha256

from chainguard import api
from chainguard.models import Subject
from chainguard.trust import dsse
from chainguard.trust.bundle import key_bundle_json
from chainguard.trust.keys import load_private_key, load_public_key
from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, build_statement

WEIGHTS = "model.safetensors"
SIGNED = MODEL_FILES[WEIGHTS]


def signed_digest(name: str) -> str:
    return sha256(MODEL_FILES[name])


# ------------------------------------------------------------------------------ baseline


def test_a_directory_that_matches_exactly_passes(release: Release) -> None:
    verdict = release.verify(json=True)
    assert verdict.code == 0 and verdict.report["findings"] == []
    assert verdict.report["stats"]["files"] == len(MODEL_FILES)


# ----------------------------------------------------------------------- content modified


def _flip_middle_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


# Besides the modification, what the format checks say of the tampered bytes (issue 13): an
# appended or cut data buffer breaks the strict safetensors rules, an empty file is no
# safetensors at all.
_FORMAT_RULES = {
    "one-byte-flipped": [],
    "data-appended": ["malformed-artifact"],
    "truncated": ["malformed-artifact"],
    "emptied": ["format-changed", "malformed-artifact"],
}


@pytest.mark.parametrize(
    ("attack", "tampered"),
    [
        ("one-byte-flipped", _flip_middle_byte(SIGNED)),
        ("data-appended", SIGNED + b"\x00"),
        ("truncated", SIGNED[:-1]),
        ("emptied", b""),
    ],
)
def test_modified_content_is_caught(release: Release, attack: str, tampered: bytes) -> None:
    (release.model / WEIGHTS).write_bytes(tampered)
    verdict = release.verify(json=True)
    assert verdict.code == 1
    expected = ["artifact-modified", *_FORMAT_RULES[attack]]
    assert verdict.rules == [(rule, WEIGHTS) for rule in expected]
    f = verdict.finding("artifact-modified", WEIGHTS)
    assert f["expected"] == f"sha256:{sha256(SIGNED)} ({len(SIGNED)} bytes)"
    assert f["actual"] == f"sha256:{sha256(tampered)} ({len(tampered)} bytes)"
    assert f["component"] == "model:weights"
    if len(tampered) != len(SIGNED):
        assert f"size {len(SIGNED)} → {len(tampered)}" in f["message"]


def test_a_safetensors_file_tampered_in_its_tensor_data_is_caught(tmp_path: Path) -> None:
    """A real safetensors file whose header still parses: only the digest can tell."""
    import numpy as np
    from safetensors.numpy import save_file

    model = tmp_path / "weights"
    model.mkdir()
    save_file({"w": np.ones((16, 16), dtype=np.float32)}, str(model / WEIGHTS))
    release = make_release(tmp_path, models=[write_tree(model, {})])
    data = bytearray((model / WEIGHTS).read_bytes())
    data[-40] ^= 0x80  # a sign bit inside the tensor data, far from the JSON header
    (model / WEIGHTS).write_bytes(bytes(data))
    verdict = release.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("artifact-modified", WEIGHTS)]


# ------------------------------------------------------------ missing, unexpected, renamed


def test_missing_file_is_caught(release: Release) -> None:
    (release.model / "tokenizer.json").unlink()
    verdict = release.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("artifact-missing", "tokenizer.json")]
    f = verdict.finding("artifact-missing", "tokenizer.json")
    assert f["expected"].startswith(f"sha256:{signed_digest('tokenizer.json')}")
    assert f["actual"] is None  # nothing observed (report schema)


def test_unexpected_pickle_next_to_the_weights_is_caught(release: Release) -> None:
    payload = b"\x80\x04\x95cos\nsystem\n."  # what a malicious pickle starts like
    (release.model / "pytorch_model.pkl").write_bytes(payload)
    verdict = release.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [
        ("artifact-unexpected", "pytorch_model.pkl"),
        ("unsafe-pickle", "pytorch_model.pkl"),  # and what loading it would do (issue 13)
    ]
    f = verdict.finding("artifact-unexpected", "pytorch_model.pkl")
    assert f["expected"] is None  # the SBOM says nothing about it
    assert f["actual"] == f"sha256:{sha256(payload)} ({len(payload)} bytes)"


def test_unexpected_file_in_a_new_subdirectory_is_caught(release: Release) -> None:
    (release.model / "adapters" / "lora").mkdir(parents=True)
    (release.model / "adapters" / "lora" / "adapter.bin").write_bytes(b"lora")
    verdict = release.verify(json=True)
    assert verdict.rules == [("artifact-unexpected", "adapters/lora/adapter.bin")]


def test_renamed_file_is_one_finding(release: Release) -> None:
    (release.model / WEIGHTS).rename(release.model / "model-00001.safetensors")
    verdict = release.verify(json=True)
    assert verdict.code == 1
    assert verdict.rules == [("artifact-renamed", "model-00001.safetensors")]
    f = verdict.finding("artifact-renamed", "model-00001.safetensors")
    assert (f["expected"], f["actual"]) == (WEIGHTS, "model-00001.safetensors")


def test_swapped_files_are_caught(release: Release) -> None:
    a, b = release.model / "config.json", release.model / "tokenizer.json"
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    verdict = release.verify(json=True)
    assert verdict.code == 1
    assert verdict.rules == [
        ("artifact-swapped", "config.json"),
        ("artifact-swapped", "tokenizer.json"),
    ]
    f = verdict.finding("artifact-swapped", "config.json")
    assert f["expected"].startswith(f"sha256:{sha256(a_bytes)}")
    assert f["actual"].startswith(f"sha256:{sha256(b_bytes)}")


def test_a_copy_of_a_signed_file_under_a_new_name_is_unexpected(release: Release) -> None:
    shutil.copy(release.model / WEIGHTS, release.model / "model-copy.safetensors")
    verdict = release.verify(json=True)
    assert verdict.rules == [("artifact-unexpected", "model-copy.safetensors")]
    assert WEIGHTS in verdict.finding("artifact-unexpected", "model-copy.safetensors")["message"]


# ---------------------------------------------------------------------------------- links


@pytest.mark.parametrize("form", ["absolute", "relative", "two-hops", "directory"])
def test_symlink_leaving_the_directory_is_caught(release: Release, form: str) -> None:
    outside = release.root / "outside"
    outside.mkdir()
    (outside / "evil.bin").write_bytes(b"evil")
    link = release.model / "extra.bin"
    match form:
        case "absolute":
            link.symlink_to(outside / "evil.bin")
        case "relative":
            link.symlink_to("../outside/evil.bin")
        case "two-hops":  # a link to a link inside the tree that then leaves it
            (release.model / "hop").symlink_to("../outside/evil.bin")
            link.symlink_to("hop")
        case "directory":
            link.symlink_to(outside, target_is_directory=True)
    verdict = release.verify(json=True)
    assert verdict.code == 1
    f = verdict.finding("symlink-escape", "extra.bin")
    assert f["expected"] == "a regular file inside the directory"
    assert "outside" in f["actual"]
    if form == "two-hops":
        assert ("symlink-escape", "hop") in verdict.rules


def test_signed_file_replaced_by_a_symlink_to_an_identical_copy_outside(release: Release) -> None:
    """Content matches, but whoever controls the target controls the model later: refused."""
    outside = release.root / "cache.safetensors"
    shutil.copy(release.model / WEIGHTS, outside)
    (release.model / WEIGHTS).unlink()
    (release.model / WEIGHTS).symlink_to(outside)
    verdict = release.verify(json=True)
    assert verdict.code == 1
    assert verdict.rules == [("symlink-escape", WEIGHTS)]  # not also artifact-missing


def test_signed_file_replaced_by_a_symlink_inside_the_tree(release: Release) -> None:
    """Links that stay inside are followed (Hugging Face layouts); the content still counts."""
    (release.model / "blobs").mkdir()
    shutil.move(release.model / WEIGHTS, release.model / "blobs" / "abc123")
    (release.model / WEIGHTS).symlink_to("blobs/abc123")
    verdict = release.verify(json=True)
    # The link itself verifies (same content), but the blob it points to is an extra file.
    assert verdict.code == 1 and verdict.rules == [("artifact-unexpected", "blobs/abc123")]
    # Pointing the link at another signed file is a modification of the link's path.
    (release.model / WEIGHTS).unlink()
    (release.model / WEIGHTS).symlink_to("config.json")
    shutil.rmtree(release.model / "blobs")
    verdict = release.verify(json=True)
    f = verdict.finding("artifact-modified", WEIGHTS)
    assert "config.json" in f["message"]


def test_symlinks_inside_the_tree_can_be_signed_and_verified(tmp_path: Path) -> None:
    release = make_release(tmp_path, models={"weights": MODEL_FILES})
    (release.model / "snapshots").mkdir()
    (release.model / "snapshots" / "config.json").symlink_to("../config.json")
    api.build_sbom(name="svc", version="1.0", models=[release.model], output=release.sbom)
    api.sign_sbom(release.sbom, release.key, release.sig)
    assert release.verify(json=True).code == 0
    # Retargeting the signed link to a file with other content is caught.
    (release.model / "snapshots" / "config.json").unlink()
    (release.model / "snapshots" / "config.json").symlink_to("../tokenizer.json")
    verdict = release.verify(json=True)
    assert verdict.rules == [("artifact-modified", "snapshots/config.json")]


def test_the_deployment_directory_itself_may_be_a_symlink(release: Release) -> None:
    """`current -> releases/v2` is how deployments switch versions; that is not an escape."""
    current = release.root / "current"
    current.symlink_to(release.model, target_is_directory=True)
    assert release.verify(directory=current, json=True).code == 0


def test_hardlink_to_a_file_outside_is_verified_by_content(release: Release) -> None:
    """A hard link is indistinguishable from a regular file: it is verified as one.

    What protects the deployment is that its *content* is checked on every run: a hard link to
    an identical file outside passes, and when the outside file is later changed, the next
    verify reports the change.
    """
    outside = release.root / "shared-cache.safetensors"
    shutil.copy(release.model / WEIGHTS, outside)
    (release.model / WEIGHTS).unlink()
    os.link(outside, release.model / WEIGHTS)
    assert (release.model / WEIGHTS).stat().st_nlink == 2
    assert release.verify(json=True).code == 0
    outside.write_bytes(_flip_middle_byte(SIGNED))  # written through the other name
    verdict = release.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("artifact-modified", WEIGHTS)]


# -------------------------------------------------------------------------- special files


def _unix_socket(path: Path) -> Iterator[None]:
    # AF_UNIX paths are limited to ~108 bytes; bind relative to the directory.
    cwd = Path.cwd()
    os.chdir(path.parent)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path.name)
        os.chdir(cwd)
        yield
    finally:
        os.chdir(cwd)
        sock.close()


@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "link-to-directory"])
def test_special_files_are_caught(release: Release, kind: str) -> None:
    path = release.model / "special"
    sock: Iterator[None] | None = None
    match kind:
        case "fifo":
            os.mkfifo(path)
        case "socket":
            sock = _unix_socket(path)
            next(sock)
        case "device":
            try:
                os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
            except PermissionError:
                pytest.skip("creating a device node needs CAP_MKNOD")
        case "link-to-directory":
            (release.model / "sub").mkdir()
            (release.model / "sub" / "x").write_bytes(b"x")
            path.symlink_to("sub", target_is_directory=True)
    try:
        verdict = release.verify(json=True)
    finally:
        if sock is not None:
            sock.close()
    assert verdict.code == 1
    f = verdict.finding("special-file", "special")
    assert f["expected"] == "a regular file"
    expected_word = {"fifo": "fifo", "socket": "socket", "device": "device"}.get(kind, "directory")
    assert expected_word in f["actual"]


def test_symlink_loops_are_reported_not_followed(release: Release) -> None:
    (release.model / "loop-a").symlink_to("loop-b")
    (release.model / "loop-b").symlink_to("loop-a")
    (release.model / "self").symlink_to("self")
    verdict = release.verify(json=True)
    assert verdict.code == 1
    assert verdict.rules == [
        ("special-file", "loop-a"),
        ("special-file", "loop-b"),
        ("special-file", "self"),
    ]
    assert "loop" in verdict.finding("special-file", "self")["actual"]


@pytest.mark.parametrize(
    "name", ["..\\model.safetensors", "new\nline.bin", "esc\x1b[2Jape.bin", "bell\x07.bin"]
)
def test_file_names_that_could_never_be_signed_safely_are_caught(
    release: Release, name: str
) -> None:
    """A name with a backslash or a control character cannot come from a signed SBOM (build
    refuses it, read rejects it), and must not be silently skipped either."""
    (release.model / name).write_bytes(b"payload")
    verdict = release.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("special-file", name)]
    assert "unsafe file name" in verdict.finding("special-file", name)["actual"]


def test_a_fifo_in_place_of_a_signed_file_does_not_hang(release: Release) -> None:
    """Opening a fifo blocks until a writer appears; the walker must never open one."""
    (release.model / WEIGHTS).unlink()
    os.mkfifo(release.model / WEIGHTS)
    verdict = release.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("special-file", WEIGHTS)]


# ---------------------------------------------------------------- changed while being hashed


class _Tamperer:
    """A Progress receiver (the hook the CLI's progress bar uses) that edits a file at an exact
    point of the verification: after the directory was listed, or after the first piece was
    hashed. This makes "changed while being hashed" deterministic without timing races: the
    CLI offers no hook, and a background writer thread racing the hasher would make a flaky
    test, so this scenario is driven through api.verify_tree, which the CLI calls."""

    def __init__(self, path: Path, when: str, action: str) -> None:
        self.path, self.when, self.action, self.done = path, when, action, False

    def start(self, files: int, total_bytes: int) -> None:
        if self.when == "after-listing":
            self._tamper()

    def advance(self, nbytes: int) -> None:
        if self.when == "after-first-piece":
            self._tamper()

    def _tamper(self) -> None:
        if self.done:
            return
        self.done = True
        match self.action:
            case "append":
                with self.path.open("ab") as f:
                    f.write(b"\x00")
            case "replace-same-content":  # atomic rename of an identical file: a new inode
                tmp = self.path.with_name(self.path.name + ".new")
                tmp.write_bytes(self.path.read_bytes())
                os.replace(tmp, self.path)
            case "rewrite-same-size":
                data = self.path.read_bytes()
                self.path.write_bytes(_flip_middle_byte(data))
                st = self.path.stat()  # make sure the mtime moves even on coarse clocks
                os.utime(self.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            case "symlink":
                self.path.unlink()
                self.path.symlink_to("config.json")


@pytest.mark.parametrize(
    ("when", "action"),
    [
        ("after-listing", "append"),
        ("after-listing", "replace-same-content"),
        ("after-listing", "rewrite-same-size"),
        ("after-listing", "symlink"),
        ("after-first-piece", "rewrite-same-size"),
        ("after-first-piece", "append"),
    ],
)
def test_a_file_that_changes_while_being_verified_is_caught(
    tmp_path: Path, when: str, action: str
) -> None:
    mib = 1024 * 1024
    big = bytes(range(256)) * (10 * mib // 256)  # 10 shards of 1 MiB: many hashing tasks
    files = {**MODEL_FILES, "big.bin": big}
    release = make_release(tmp_path, models={"weights": files}, shard_size=mib)
    tamperer = _Tamperer(release.model / "big.bin", when, action)
    report = api.verify_tree(
        release.model,
        kind="model",
        trust=api.TrustInputs(sbom=release.sbom, signatures=(release.sig,), keys=(release.pub,)),
        progress=tamperer,
    )
    assert tamperer.done
    assert not report.ok
    [finding] = [f for f in report.findings if f.path == "big.bin"]
    assert finding.rule == "artifact-changed-during-verify", report.findings
    assert finding.expected == "stable content"
    assert finding.actual


# ------------------------------------------------------------- unsafe paths in a signed SBOM


class _OpenRecorder:
    """Records every path Python opens (audit event "open" covers open() and os.open())."""

    def __init__(self) -> None:
        self.active = False
        self.paths: list[str] = []
        sys.addaudithook(self._hook)  # hooks cannot be removed; `active` switches it off

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.active and event == "open" and isinstance(args[0], str | bytes):
            self.paths.append(os.fsdecode(args[0]))


_OPENS = _OpenRecorder()


@pytest.mark.parametrize(
    "unsafe",
    [
        "../outside.bin",
        "sub/../../outside.bin",
        "ABSOLUTE",  # replaced by the sentinel's absolute path
        "..\\outside.bin",
        "sub\\..\\..\\outside.bin",
        "C:/outside.bin",
        "//server/share/outside.bin",
        "./config.json",
        "a\x00b",
        "line\nbreak",
        "",
    ],
)
def test_unsafe_path_in_a_signed_sbom_is_reported_and_never_opened(
    release: Release, unsafe: str
) -> None:
    # A sentinel outside the model directory holding exactly the content the SBOM claims:
    # had the verifier opened it, that entry would have "matched".
    sentinel = release.root / "outside.bin"
    sentinel.write_bytes(b"secret outside the model\n")
    if unsafe == "ABSOLUTE":
        unsafe = str(sentinel)
    doc = json.loads(release.sbom.read_text())
    [component] = doc["components"]
    component["components"].append(new_file_node(unsafe, sentinel.read_bytes()))
    reseal(component)
    resign(release, doc)  # a validly signed, self-consistent, malicious SBOM

    _OPENS.paths.clear()
    _OPENS.active = True
    try:
        verdict = release.verify(json=True)
    finally:
        _OPENS.active = False
    assert verdict.code == 1
    assert verdict.rules == [("sbom-path-unsafe", unsafe)]  # the safe files still verify
    f = verdict.finding("sbom-path-unsafe", unsafe)
    assert f["actual"] == unsafe and f["expected"]
    opened = {os.path.realpath(p) for p in _OPENS.paths}
    assert str(sentinel.resolve()) not in opened
    assert any(p.endswith(WEIGHTS) for p in opened)  # the recorder did see the real reads


# ------------------------------------------------------------------ SBOM and signature attacks


def test_sbom_edited_after_signing_is_caught(release: Release) -> None:
    """The attacker swaps the weights and updates the SBOM's digest to match."""
    tampered = _flip_middle_byte(SIGNED)
    (release.model / WEIGHTS).write_bytes(tampered)
    signed_sbom = release.sbom.read_bytes()
    doc = json.loads(signed_sbom)
    [component] = doc["components"]
    node = next(n for n in component["components"] if n["name"] == WEIGHTS)
    node["hashes"][0]["content"] = sha256(tampered)
    reseal(component)
    release.sbom.write_text(json.dumps(doc, indent=2) + "\n")  # not re-signed
    verdict = release.verify(json=True)
    assert verdict.code == 1
    f = verdict.finding("sbom-mismatch", str(release.sbom))
    assert f["expected"] == f"sha256:{sha256(signed_sbom)}"
    assert f["actual"] == f"sha256:{sha256(release.sbom.read_bytes())}"
    # Nothing was compared against the unsigned SBOM (no file findings at all).
    assert [r for r, _ in verdict.rules] == ["sbom-mismatch"]


def test_whitespace_only_edit_of_the_sbom_is_still_caught(release: Release) -> None:
    release.sbom.write_bytes(release.sbom.read_bytes() + b"\n")
    verdict = release.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("sbom-mismatch", str(release.sbom))]


def test_signature_from_an_untrusted_key_is_caught(release: Release) -> None:
    """The attacker re-signs a tampered SBOM with their own key."""
    attacker_key, _ = api.keygen(release.root / "attacker")
    api.sign_sbom(release.sbom, attacker_key, release.sig)
    verdict = release.verify(json=True)
    assert verdict.code == 1
    f = verdict.finding("signature-untrusted", str(release.sig))
    attacker = load_private_key(attacker_key, None).fingerprint
    assert f["actual"] == attacker
    assert load_public_key(release.pub).fingerprint in f["expected"]
    assert verdict.report["signers"] == []


def test_untrusted_signature_claiming_the_trusted_key_is_caught(release: Release) -> None:
    """The attacker copies the trusted key's fingerprint into the hint and keyid."""
    attacker_key, _ = api.keygen(release.root / "attacker")
    api.sign_sbom(release.sbom, attacker_key, release.sig)
    trusted = load_public_key(release.pub).fingerprint
    bundle = json.loads(release.sig.read_text())
    bundle["verificationMaterial"]["publicKey"]["hint"] = trusted
    for s in bundle["dsseEnvelope"]["signatures"]:
        s["keyid"] = trusted
    release.sig.write_text(json.dumps(bundle))
    verdict = release.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("signature-invalid", str(release.sig))]


def test_signed_payload_altered_in_the_bundle_is_caught(release: Release) -> None:
    import base64

    bundle = json.loads(release.sig.read_text())
    payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    payload["predicate"]["metadata"]["component"]["version"] = "6.6.6"
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    release.sig.write_text(json.dumps(bundle))
    verdict = release.verify("--signature", release.sig, sbom=False, json=True)
    assert verdict.code == 1 and verdict.rules == [("signature-invalid", str(release.sig))]


def test_signature_for_a_different_sbom_is_caught(release: Release) -> None:
    """A genuine signature, by the trusted key, of another SBOM (say, an older release)."""
    other = release.root / "other.cdx.json"
    api.build_sbom(name="svc", version="0.9", models=[release.model], output=other)
    other_sig = api.sign_sbom(other, release.key)
    verdict = release.verify("--signature", other_sig, json=True)
    assert verdict.code == 1
    f = verdict.finding("sbom-mismatch", str(release.sbom))
    assert f["expected"] == f"sha256:{sha256(other.read_bytes())}"
    assert f["actual"] == f"sha256:{sha256(release.sbom.read_bytes())}"


def test_signed_statement_whose_subjects_disagree_with_its_sbom_is_caught(
    release: Release,
) -> None:
    """Subjects are what in-toto tooling checks; they must bind the same trees as the SBOM."""
    sbom_bytes = release.sbom.read_bytes()
    _, state = api.read_sbom_file(release.sbom)
    subjects = [
        s if not s.name.startswith("model:") else Subject(s.name, (("sha256", "ab" * 32),))
        for s in api.statement_subjects(state, sbom_bytes)
    ]
    key = load_private_key(release.key, None)
    payload = build_statement(subjects, "https://cyclonedx.org/bom", json.loads(sbom_bytes))
    release.sig.write_bytes(
        key_bundle_json(dsse.sign(payload, PAYLOAD_TYPE_IN_TOTO, key), key.trusted_key)
    )
    verdict = release.verify(json=True)
    assert verdict.code == 1
    f = verdict.finding("subject-mismatch", str(release.sig))
    assert f["expected"] == f"sha256:{state.components[0].root_digest}"
    assert f["actual"] == "sha256:" + "ab" * 32


def test_missing_signature_is_caught(release: Release) -> None:
    release.sig.unlink()
    verdict = release.verify(json=True)
    assert verdict.code == 1
    missing = f"{release.sbom}.sigstore.json"  # neither name exists: the default is reported
    assert verdict.rules == [("signature-missing", missing)]
    f = verdict.finding("signature-missing", missing)
    assert f["expected"] and f["actual"] != f["expected"]
    assert verdict.report["stats"]["files"] == 0  # nothing is hashed without a signature


def test_attacks_on_the_tree_are_not_hidden_by_a_trust_failure(release: Release) -> None:
    """Trust is checked first and alone: with a bad signature nothing else is trusted, so the
    report holds the trust finding only (and the run still fails)."""
    (release.model / WEIGHTS).write_bytes(b"evil")
    release.sig.unlink()
    verdict = release.verify(json=True)
    missing = f"{release.sbom}.sigstore.json"  # neither name exists: the default is reported
    assert verdict.code == 1 and verdict.rules == [("signature-missing", missing)]


# ------------------------------------------------------------------------- sharded files

MIB = 1024 * 1024


@pytest.fixture
def sharded(tmp_path: Path) -> Release:
    """Two 2.5 MiB files recorded with 1 MiB shards (3 shards each), plus a config."""
    first = bytes(range(256)) * (5 * MIB // 512)
    second = bytes(reversed(range(256))) * (5 * MIB // 512)
    files = {"config.json": b"{}\n", "part-1.bin": first, "part-2.bin": second}
    return make_release(tmp_path, models={"weights": files}, shard_size=MIB)


def test_sharded_release_records_shards_and_verifies(sharded: Release) -> None:
    doc = json.loads(sharded.sbom.read_text())
    nodes = {n["name"]: n for n in doc["components"][0]["components"]}
    props = {p["name"]: p["value"] for p in nodes["part-1.bin"]["properties"]}
    assert props["chainguard:shard-size"] == str(MIB)
    assert len(props["chainguard:shards"].split(",")) == 3
    assert "chainguard:shards" not in {p["name"] for p in nodes["config.json"]["properties"]}
    assert sharded.verify(json=True).code == 0


def test_one_byte_flipped_in_the_last_shard_is_caught(sharded: Release) -> None:
    path = sharded.model / "part-1.bin"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    verdict = sharded.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("artifact-modified", "part-1.bin")]
    f = verdict.finding("artifact-modified", "part-1.bin")
    assert f["expected"] and f["actual"] and f["expected"] != f["actual"]


def test_truncated_sharded_file_is_caught(sharded: Release) -> None:
    path = sharded.model / "part-2.bin"
    path.write_bytes(path.read_bytes()[: 2 * MIB])  # exactly two whole shards left
    verdict = sharded.verify(json=True)
    assert verdict.rules == [("artifact-modified", "part-2.bin")]
    assert "→ 2097152" in verdict.finding("artifact-modified", "part-2.bin")["message"]


def test_swapped_sharded_files_are_caught(sharded: Release) -> None:
    a, b = sharded.model / "part-1.bin", sharded.model / "part-2.bin"
    tmp = sharded.model / "swap.tmp"
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    verdict = sharded.verify(json=True)
    assert verdict.code == 1
    assert verdict.rules == [("artifact-swapped", "part-1.bin"), ("artifact-swapped", "part-2.bin")]


def test_sharded_file_renamed_is_recognised(sharded: Release) -> None:
    (sharded.model / "part-1.bin").rename(sharded.model / "part-1-renamed.bin")
    verdict = sharded.verify(json=True)
    assert verdict.rules == [("artifact-renamed", "part-1-renamed.bin")]


def test_one_byte_flipped_in_the_first_shard_is_caught(sharded: Release) -> None:
    path = sharded.model / "part-2.bin"
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))
    verdict = sharded.verify(json=True)
    assert verdict.code == 1 and verdict.rules == [("artifact-modified", "part-2.bin")]
