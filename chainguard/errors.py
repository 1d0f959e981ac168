"""One error hierarchy. An exception means "could not verify at all" (exit 3 or 2).

A mismatch between what was signed and what is on disk is never an exception: it is a
Finding, and the report is still written.
"""

from __future__ import annotations

import os
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes: a public contract, documented in the README."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    CANNOT_VERIFY = 3


class ChainguardError(Exception):
    """Base class. The message is one actionable line shown to the user as is."""

    exit_code: ExitCode = ExitCode.CANNOT_VERIFY


class UsageError(ChainguardError):
    """The command line or configuration asks for something contradictory or impossible."""

    exit_code = ExitCode.USAGE


class MissingExtraError(UsageError):
    """The command needs an optional extra this install lacks (chainguard/_extras.py names it).
    Exit 2: nothing about the input is wrong; installing the extra is the fix."""


class InputError(ChainguardError):
    """A file the user pointed us at is missing, unreadable or malformed."""


class ConfigError(InputError):
    """chainguard.toml (or another policy file) is malformed."""


class SbomError(InputError):
    """An SBOM is malformed, fails schema validation or lacks what chainguard needs."""


class BundleError(InputError):
    """A signature bundle / DSSE envelope is malformed."""


class KeyFileError(InputError):
    """A key file is malformed, of an unsupported type, or cannot be decrypted."""


class LockfileError(InputError):
    """A requirements file, lockfile or installed environment cannot be read."""


class SafetensorsError(InputError):
    """A safetensors file's header is truncated, oversized or malformed."""


class ParquetError(InputError):
    """A Parquet file's footer is truncated, oversized or malformed."""


class ClaimError(InputError):
    """A host's claim (chainguard.claim/v1) cannot be read: missing, not JSON, wrong types, or
    an HTTP source that failed, answered too much or redirected away."""


class AdvisoryError(InputError):
    """A VEX document or an OSV advisory record (or the mirror holding them) is malformed."""


class HashingError(InputError):
    """The tree to hash cannot be read at all (not a directory, permission denied at the top)."""


class ProcessError(InputError):
    """A running process cannot be looked at: it does not exist, /proc is missing (not Linux),
    or reading it needs a privilege this run lacks (the message names which)."""


class RegistryError(InputError):
    """An OCI registry could not be used: unreachable, refused the credentials, or answered
    with something that is not a registry's answer (chainguard/fleet/oci.py)."""


class ClusterError(InputError):
    """A dask.distributed scheduler (`--dask`) could not be reached, or the cluster failed the
    run (chainguard/collectors/dask_tree.py). Exit 3: nothing was verified."""


class StateError(ChainguardError):
    """The local state store (rollback high-water marks, attestation log) is unusable."""


class OutputError(ChainguardError):
    """An output file cannot be written (exists and would be overwritten, or no permission)."""


class SigningError(ChainguardError):
    """Signing could not complete (Sigstore unreachable, identity token rejected mid-way)."""


class PatchNotAppliedError(ChainguardError):
    """sbom build: a declared patch is not applied in the inventory the SBOM would record.
    Exit 1: what was measured contradicts the declaration (a finding, not bad input)."""

    exit_code = ExitCode.FINDINGS


class UnsafeArtifactError(ChainguardError):
    """sbom build: a file the format policy refuses (a pickle importing os.system, a denied
    format, a malformed safetensors). Exit 1: nothing is written."""

    exit_code = ExitCode.FINDINGS


class VerificationFailure(ChainguardError):
    """Raised by trust/ when a signature does not verify or is not trusted.

    api.py turns it into a Finding with ``rule`` (so the report is still written, exit 1);
    nothing downstream of trust ever sees the unverified bytes.
    """

    exit_code = ExitCode.FINDINGS

    def __init__(
        self, rule: str, message: str, *, expected: str | None = None, actual: str | None = None
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.expected = expected
        self.actual = actual


# The largest input file read whole (an SBOM, a signature bundle, a key, a trusted root): a
# signed SBOM of ~3,000,000 files as `sbom build` writes them. Checked before reading.
MAX_INPUT_BYTES = 1 << 30


def refuse_oversized(
    path: Path, what: str, error: type[InputError] = InputError, size: int | None = None
) -> None:
    """Raise ``error`` if the file at ``path`` (or ``size``, when known) is over
    MAX_INPUT_BYTES; a file that cannot be stat'ed is left to the reader to report."""
    if size is None:
        try:
            size = path.stat().st_size
        except OSError:
            return
    if size > MAX_INPUT_BYTES:
        raise error(
            f"{path}: {what} of {size} bytes is over the {MAX_INPUT_BYTES // 2**20} MiB limit; "
            "not read"
        )


def read_input(path: Path, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of a file the user named (at most MAX_INPUT_BYTES): missing, a directory,
    unreadable or too large is one line naming the file and what it was meant to be."""
    try:
        with path.open("rb") as f:
            refuse_oversized(path, what, error, os.fstat(f.fileno()).st_size)
            data = f.read(MAX_INPUT_BYTES + 1)  # a FIFO or a device has no size to check first
        refuse_oversized(path, what, error, len(data))
        return data
    except FileNotFoundError as e:
        raise error(f"{path}: no such {what}") from e
    except IsADirectoryError as e:
        raise error(f"{path}: is a directory, not a {what}") from e
    except OSError as e:
        raise error(f"{path}: cannot read {what}: {e.strerror or e}") from e
