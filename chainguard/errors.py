"""One error hierarchy. An exception means "could not verify at all" (exit 3 or 2).

A mismatch between what was signed and what is on disk is never an exception: it is a
Finding, and the report is still written.
"""

from __future__ import annotations

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


def read_input(path: Path, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of a file the user named: missing, a directory or unreadable is one line
    naming the file and what it was meant to be."""
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise error(f"{path}: no such {what}") from e
    except IsADirectoryError as e:
        raise error(f"{path}: is a directory, not a {what}") from e
    except OSError as e:
        raise error(f"{path}: cannot read {what}: {e.strerror or e}") from e
