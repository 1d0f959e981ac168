"""keygen, sbom build and sign: the commands that make keys, SBOMs and signatures."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from chainguard.cli._app import HashChoice, KeyAlgorithm, app, one_line, sbom_app
from chainguard.cli._options import (
    DASK_OPT,
    DASK_TIMEOUT_OPT,
    STORAGE_OPTION_OPT,
    dask_cluster,
)
from chainguard.cli._progress import ProgressBar
from chainguard.errors import UsageError

if TYPE_CHECKING:
    pass


# ---------------------------------------------------------------------------------- commands


@app.command()
def keygen(
    prefix: Annotated[Path, typer.Argument(help="Writes PREFIX.key (0600) and PREFIX.pub.")],
    algorithm: Annotated[
        KeyAlgorithm, typer.Option("--algorithm", help="Signature algorithm.")
    ] = KeyAlgorithm.ecdsa_p256,
) -> None:
    """Create a signing key pair. Encrypted when CHAINGUARD_KEY_PASSWORD is set."""
    from chainguard import api

    private, public = api.keygen(prefix, algorithm.value)
    typer.echo(f"wrote {private} (private, mode 0600) and {public} (public)")


@sbom_app.command("build")
def sbom_build(
    name: Annotated[str, typer.Option("--name", help="Deployment name.")],
    version: Annotated[str, typer.Option("--version", help="Deployment version.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the SBOM.")],
    model: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Option(
            "--model",
            help="Model directory or file, Hugging Face cache folder, or hf://ORG/NAME@REV "
            "(repeatable).",
        ),
    ] = None,
    dataset: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--dataset",
            help="Dataset directory, cache folder, or hf://datasets/ORG/NAME@REV (repeatable).",
        ),
    ] = None,
    revision: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--revision",
            metavar="REV",
            help="With a Hugging Face cache folder: the snapshot (commit or ref; default main).",
        ),
    ] = None,
    hash_: Annotated[
        HashChoice,
        typer.Option("--hash", help="Also record BLAKE3 digests with 'blake3' (SHA-256 always)."),
    ] = HashChoice.sha256,
    ignore: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--ignore", help="Glob of relative paths to leave out (repeatable)."),
    ] = None,
    serial: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--serial", min=0, max=2**63 - 1, help="Monotonic release serial (default 0)."
        ),
    ] = None,
    expires: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--expires", help="Expiry: a duration (30d, 12h, 2w) or an RFC 3339 time."),
    ] = None,
    requirements: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "--requirements", metavar="FILE", help="requirements.txt to record (repeatable)."
        ),
    ] = None,
    lock: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "--lock", metavar="FILE", help="pylock.toml, uv.lock, poetry.lock, … (repeatable)."
        ),
    ] = None,
    env: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            "--env",
            metavar="PYTHON",
            help="Installed environment: venv or its python (repeatable).",
        ),
    ] = None,
    patch: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--patch",
            metavar="ID=REQUIREMENT",
            help="Declare a patch applied, e.g. CVE-2025-32434=torch>=2.6.0 or "
            "ID=model:NAME[/PATH]@sha256:HEX (repeatable); refused unless what is recorded "
            "satisfies it.",
        ),
    ] = None,
    config: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--config",
            metavar="FILE",
            help="Read the [patches] and [formats] tables of this chainguard.toml (nothing else "
            "of it).",
        ),
    ] = None,
    dask: Annotated[Optional[str], DASK_OPT] = None,  # noqa: UP045
    storage_option: Annotated[Optional[list[str]], STORAGE_OPTION_OPT] = None,  # noqa: UP045
    dask_timeout: Annotated[Optional[float], DASK_TIMEOUT_OPT] = None,  # noqa: UP045
) -> None:
    """Hash models, datasets and dependencies into a CycloneDX 1.6 SBOM (schema-validated).

    With --dask the datasets are hashed on the cluster (a --dataset may then be an s3://,
    gs:// or hf:// URL the workers read); models and dependencies are still read here."""
    from chainguard import api
    from chainguard.patches import parse_declaration

    declared = [parse_declaration(p) for p in patch or []]  # a typo stops before any hashing
    formats = None
    if config is not None:
        from chainguard.config import load_config

        cfg = load_config(config)
        declared = [*cfg.patches, *declared]
        formats = cfg.formats

    cluster = dask_cluster(dask, storage_option, dask_timeout)
    bar = ProgressBar("hashing")
    try:
        result = api.build_sbom(
            name=name,
            version=version,
            models=model or [],
            datasets=dataset or [],
            output=output,
            blake3=hash_ is HashChoice.blake3,
            serial=serial,
            expires=api.parse_expires(expires) if expires else None,
            ignore=ignore or [],
            progress=bar,
            requirements=requirements or [],
            locks=lock or [],
            envs=env or [],
            patches=declared,
            revision=revision,
            formats=formats,
            dask=cluster,
        )
    finally:
        bar.close()
    for note in result.notes:  # read but not verifiable (unpinned, editable, …): say so
        sys.stderr.write(f"chainguard: note: {one_line(note)}\n")
    typer.echo(
        f"wrote {result.output}: {', '.join(result.components)}; {result.files} files, "
        f"{result.bytes / 2**20:,.1f} MiB in {result.seconds:.2f} s"
    )


class SignFormat(str, Enum):
    oms = "oms"


@app.command()
def sign(
    sbom: Annotated[
        Path,
        typer.Argument(help="The SBOM to sign; or the word 'model' (sign model DIR --format oms)."),
    ],
    model: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Argument(
            metavar="DIR", help="With 'model': the model directory or single file to sign."
        ),
    ] = None,
    key: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--key", help="Private key (PEM, from keygen)."),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("-o", "--output", help="Bundle path (default: SBOM.sigstore.json)."),
    ] = None,
    sigstore: Annotated[
        bool,
        typer.Option("--sigstore", help="Sign keylessly with Sigstore (OIDC identity, network)."),
    ] = False,
    staging: Annotated[
        bool, typer.Option("--staging", help="With --sigstore: use Sigstore's staging instance.")
    ] = False,
    identity_token: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--identity-token",
            envvar="SIGSTORE_IDENTITY_TOKEN",
            help="With --sigstore: OIDC token (default: ambient CI credentials).",
        ),
    ] = None,
    format_: Annotated[
        Optional[SignFormat],  # noqa: UP045
        typer.Option("--format", help="With 'sign model': signature format (default: oms)."),
    ] = None,
    ignore: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--ignore", metavar="REL", help="With 'sign model': relative path to leave out."
        ),
    ] = None,
) -> None:
    """Sign an SBOM (SBOM --key KEY, or --sigstore), or a model (model DIR --key KEY --format oms).

    An SBOM signature is a Sigstore bundle v0.3 with a DSSE in-toto statement. 'sign model'
    writes an OpenSSF model signature (default: DIR/model.sig) that model_signing verifies.
    """
    from chainguard import api

    if model is not None or format_ is not None or ignore:
        _sign_model(sbom, model, key, output, sigstore, format_, ignore)
        return
    if (key is None) == (not sigstore):
        raise UsageError("sign with exactly one of --key KEY or --sigstore")
    if key is not None:
        if staging:  # (an identity token may come from the environment: ignored here)
            raise UsageError("--staging goes with --sigstore, not --key")
        out = api.sign_sbom(sbom, key, output)
    else:
        out = api.sign_sbom_sigstore(
            sbom, staging=staging, identity_token=identity_token, output=output
        )
    typer.echo(f"wrote {out}")


def _sign_model(
    word: Path,
    model: Path | None,
    key: Path | None,
    output: Path | None,
    sigstore: bool,
    format_: SignFormat | None,
    ignore: list[str] | None,
) -> None:
    """``sign model DIR``: a second positional after the literal word 'model'.

    ``sign SBOM`` stays exactly as it was (a file named 'model' is still signed as an SBOM
    when no second argument follows).
    """
    from chainguard import api

    if str(word) != "model" or model is None:
        raise UsageError(
            "--format and --ignore apply to `chainguard sign model DIR`; "
            "`chainguard sign SBOM` takes one SBOM"
        )
    if sigstore or key is None:
        raise UsageError("sign model signs with --key KEY (an ECDSA P-256 key from keygen)")
    out = api.sign_model_oms(model, key, output, ignore or [])
    typer.echo(f"wrote {out} (OpenSSF model signature)")
