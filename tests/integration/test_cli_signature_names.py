"""Default bundle names: `sign` writes SBOM.sigstore.json; verify reads it, or SBOM.sig when
that is what exists (releases signed before), and the new name when both exist."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.cli import cli, ok, report, rules
from support.release import write_model

from chainguard.models import default_signature, new_signature_path, signature_paths


def _signed(tmp_path: Path, sbom: Path | None = None) -> tuple[Path, Path, Path]:
    """A model, its SBOM and the default-named bundle (model, sbom, bundle)."""
    model = write_model(tmp_path / "weights")
    sbom = sbom or tmp_path / "s.cdx.json"
    ok(cli("keygen", tmp_path / "k"))
    ok(cli("sbom", "build", "--name", "svc", "--version", "1", "--model", model, "-o", sbom))
    out = ok(cli("sign", sbom, "--key", tmp_path / "k.key"))
    bundle = Path(f"{sbom}.sigstore.json")
    assert f"wrote {bundle}" in out.stdout and bundle.is_file()
    assert not Path(f"{sbom}.sig").exists()
    return model, sbom, bundle


def _verify(tmp_path: Path, model: Path, sbom: Path) -> tuple[int, dict[str, object]]:
    outcome = cli(
        "verify", "model", model, "--sbom", sbom, "--key", tmp_path / "k.pub",
        "--deployment", "svc", "-f", "json",
    )  # fmt: skip
    return outcome.code, report(outcome)


def test_sign_writes_and_verify_reads_the_new_name(tmp_path: Path) -> None:
    model, sbom, bundle = _signed(tmp_path)
    code, doc = _verify(tmp_path, model, sbom)
    assert code == 0 and doc["signature"] == str(bundle)


def test_an_older_release_with_only_sbom_sig_still_verifies(tmp_path: Path) -> None:
    model, sbom, bundle = _signed(tmp_path)
    legacy = Path(f"{sbom}.sig")
    bundle.rename(legacy)
    code, doc = _verify(tmp_path, model, sbom)
    assert code == 0 and doc["signature"] == str(legacy)


def test_when_both_exist_the_new_name_is_read(tmp_path: Path) -> None:
    """A SBOM.sig beside a SBOM.sigstore.json is what an older chainguard left: never read,
    whether it is valid or not, and never a fallback when the new bundle fails."""
    model, sbom, bundle = _signed(tmp_path)
    legacy = Path(f"{sbom}.sig")
    legacy.write_text("not a bundle")
    code, doc = _verify(tmp_path, model, sbom)
    assert code == 0 and doc["signature"] == str(bundle)

    shutil.copy(bundle, legacy)  # a valid old bundle...
    bundle.write_text("{}")  # ...and a broken new one: the broken one decides
    outcome = cli(
        "verify", "model", model, "--sbom", sbom, "--key", tmp_path / "k.pub", "-f", "json"
    )
    assert outcome.code == 3, outcome


def test_sbom_and_bundle_inside_the_model_are_not_artifacts(tmp_path: Path) -> None:
    model = write_model(tmp_path / "weights")
    _, sbom, _ = _signed(tmp_path, model / "SBOM.cdx.json")
    Path(f"{sbom}.sig").write_text("left by an older chainguard")
    code, doc = _verify(tmp_path, model, sbom)
    assert code == 0, rules(doc)


def test_default_signature_choice(tmp_path: Path) -> None:
    sbom = tmp_path / "a.cdx.json"
    new, legacy = signature_paths(sbom)
    assert new == new_signature_path(sbom) == tmp_path / "a.cdx.json.sigstore.json"
    assert legacy == tmp_path / "a.cdx.json.sig"
    assert default_signature(sbom) == new  # neither: the name sign writes
    legacy.write_text("x")
    assert default_signature(sbom) == legacy
    new.write_text("x")
    assert default_signature(sbom) == new
