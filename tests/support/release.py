"""The one release builder: write nothing but what it is given, then keygen, build and sign,
through the library API (the default) or through the CLI (``via="cli"``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from support import DEPLOYMENT
from support.cli import Outcome, cli, ok, verdict


def write_tree(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return directory


def _safetensors_bytes() -> bytes:
    import numpy as np
    from safetensors.numpy import save

    weights = np.arange(1024, dtype=np.float32).reshape(32, 32)  # 4 KiB of tensor data
    return save({"layer.weight": weights}, metadata={"format": "np"})


# Small, distinct contents; the names look like a Hugging Face snapshot.
MODEL_FILES = {
    "config.json": b'{"hidden_size": 16, "num_layers": 2}\n',
    "model.safetensors": _safetensors_bytes(),
    "tokenizer.json": b'{"vocab": {"a": 0, "b": 1}}\n',
}


def write_model(directory: Path, *, seed: int = 0) -> Path:
    """A small real model: a safetensors file with __metadata__, config and tokenizer JSON."""
    import numpy as np
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    save_file(
        {
            "embed.weight": rng.standard_normal((32, 16), dtype=np.float32),
            "head.bias": np.zeros(16, dtype=np.float16),
        },
        str(directory / "model.safetensors"),
        metadata={"format": "np", "seed": str(seed)},
    )
    (directory / "config.json").write_text(json.dumps({"hidden": 16, "seed": seed}) + "\n")
    (directory / "tokenizer.json").write_text(json.dumps({"vocab": ["a", "b"]}) + "\n")
    return directory


@dataclass(frozen=True)
class Release:
    """Signed artefacts (models, datasets, dependencies) with their SBOM, bundle and key pair."""

    root: Path  # the directory the release was built in
    sbom: Path
    sig: Path
    key: Path
    pub: Path
    models: tuple[Path, ...] = ()
    datasets: tuple[Path, ...] = ()
    deployment: str = DEPLOYMENT

    @property
    def model(self) -> Path:
        (model,) = self.models
        return model

    @property
    def data(self) -> Path:
        (data,) = self.datasets
        return data

    def trust(self, **overrides: object) -> Any:
        """api.TrustInputs for this release, its deployment pinned as a well-configured
        operator does, the rollback state store beside the SBOM (never inside the data)."""
        from chainguard import api

        state = self.sbom.parent / "state"
        if self.datasets and state.is_relative_to(self.data):
            state = self.data.parent / "state"
        values: dict[str, object] = {
            "sbom": self.sbom,
            "signatures": (),
            "keys": (self.pub,),
            "state_dir": state,
            "deployment": self.deployment,
        }
        values.update(overrides)
        return api.TrustInputs(**values)  # type: ignore[arg-type]

    def payload(self) -> bytes:
        """The signed in-toto statement, as the bundle carries it."""
        from chainguard.trust.bundle import read_bundle_file

        bundle, _ = read_bundle_file(self.sig, str(self.sig))
        assert bundle.envelope is not None
        return bundle.envelope.payload

    def sbom_sha256(self) -> str:
        return hashlib.sha256(self.sbom.read_bytes()).hexdigest()

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.sbom.read_text())
        return doc

    def moved_to(self, directory: Path) -> Release:
        """The same artefacts and key, with the SBOM and bundle in ``directory`` (unwritten)."""
        sbom = directory / self.sbom.name
        return dataclasses.replace(self, sbom=sbom, sig=Path(f"{sbom}.sig"))

    def verify(
        self,
        *extra: str | Path,
        directory: Path | None = None,
        sbom: bool = True,
        json: bool = False,
    ) -> Outcome:
        """``chainguard verify model`` (``dataset`` for a dataset release) in-process.

        The deployment is pinned (``--deployment svc``) unless ``extra`` pins one, as a
        well-configured operator runs it. ``json``: ask for a JSON report and check it is one
        (exit 0 or 1, schema-valid, ``ok`` as the exit code)."""
        kind = "model" if self.models else "dataset"
        target = directory or (self.model if self.models else self.data)
        args: list[str | Path] = ["verify", kind, target, "--key", self.pub]
        if sbom:
            args += ["--sbom", self.sbom]
        options = [str(e) for e in extra]
        if not any(o == "--deployment" or o.startswith("--deployment=") for o in options):
            args += ["--deployment", self.deployment]
        if json:
            args += ["--format", "json"]
        outcome = cli(*args, *options)
        return verdict(outcome) if json else outcome


# Directories to sign: existing paths, or {directory name: {relative path: content}} to write
# under the release's root first.
Trees = Sequence[Path] | Mapping[str, Mapping[str, bytes]]


def _directories(root: Path, trees: Trees) -> tuple[Path, ...]:
    if isinstance(trees, Mapping):
        return tuple(write_tree(root / name, dict(files)) for name, files in trees.items())
    return tuple(trees)


def make_release(
    root: Path,
    *,
    models: Trees = (),
    datasets: Trees = (),
    requirements: Sequence[Path] = (),
    locks: Sequence[Path] = (),
    envs: Sequence[Path] = (),
    name: str = DEPLOYMENT,
    version: str = "1.0",
    serial: int | None = None,
    expires: str | None = None,
    shard_size: int | None = None,
    sbom_name: str = "deploy.cdx.json",
    key_prefix: str = "release",
    pad_to: int = 0,
    signer: Release | None = None,
    via: Literal["api", "cli"] = "api",
    patches: Mapping[str, str] | None = None,
) -> Release:
    """keygen (``root/key_prefix``), build ``root/sbom_name`` of the models, datasets and
    dependencies, and sign it (``.sig`` beside: the bundle name of releases made before
    SBOM.sigstore.json became the default, so the whole suite reads that name;
    tests/integration/test_cli_signature_names.py covers the new one).

    ``via="cli"``: each step through the CLI, asserting it succeeds. ``pad_to``: grow the
    signed bundle to at least this many bytes with a long metadata description (a real, valid,
    large signed SBOM without 25,000 files to hash). ``signer``: sign with that release's key
    pair instead of a new one (another release by the same publisher). ``patches``: declared
    patches, id → requirement (``sbom build --patch``)."""
    from chainguard import api

    root.mkdir(parents=True, exist_ok=True)
    models, datasets = _directories(root, models), _directories(root, datasets)
    prefix = root / key_prefix
    sbom = root / sbom_name
    sbom.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {}
    for option, value in (
        ("serial", serial),
        ("expires", expires),
        ("shard_size", shard_size),
        ("patches", patches),
    ):
        if value is not None:
            options[option] = value
    if via == "cli":
        declared = options.pop("patches", {})
        assert not (requirements or locks or envs or options or signer), (
            "not needed via the CLI yet"
        )
        ok(cli("keygen", prefix))
        inputs = [*(("--model", m) for m in models), *(("--dataset", d) for d in datasets)]
        inputs += [("--patch", f"{pid}={req}") for pid, req in declared.items()]
        flags = [str(part) for pair in inputs for part in pair]
        ok(cli("sbom", "build", "--name", name, "--version", version, *flags, "-o", sbom))
        ok(cli("sign", sbom, "--key", prefix.with_suffix(".key"), "-o", f"{sbom}.sig"))
        key, pub, sig = prefix.with_suffix(".key"), prefix.with_suffix(".pub"), Path(f"{sbom}.sig")
    else:
        key, pub = (signer.key, signer.pub) if signer else api.keygen(prefix)
        api.build_sbom(
            name=name,
            version=version,
            models=list(models),
            datasets=list(datasets),
            requirements=tuple(requirements),
            locks=tuple(locks),
            envs=tuple(envs),
            output=sbom,
            **options,
        )
        sig = api.sign_sbom(sbom, key, Path(f"{sbom}.sig"))
    release = Release(root, sbom, sig, key, pub, models, datasets, name)
    if pad_to:
        from support.surgery import resign

        doc = release.document()
        # base64 makes the payload 4/3 larger in the bundle
        doc["metadata"]["component"]["description"] = "p" * (pad_to * 3 // 4)
        resign(release, doc)
        assert release.sig.stat().st_size >= pad_to
    return release
