"""Publishing signed attestations to an OCI registry, one artifact per attest run.

The artifact: an OCI image manifest with ``artifactType`` VSA_ARTIFACT_TYPE, the empty config,
and one layer, the signed attestation exactly as attest wrote it (a Sigstore bundle v0.3
holding the DSSE-signed in-toto VSA). Annotations say the host, the time and the result for
people browsing the registry; ``fleet status`` never believes them (it reads the signed VSA).

The tag, ``HOST_YYYYMMDDTHHMMSSZ_SEQ``, is how ``fleet status`` finds a host's newest
attestations without reading every manifest; it is a hint, never trusted either.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chainguard.errors import (
    ChainguardError,
    InputError,
    MissingExtraError,
    StateError,
    UsageError,
)
from chainguard.fleet.oci import DEFAULT_TIMEOUT, OCI_MANIFEST, Registry, RegistryRef

VSA_ARTIFACT_TYPE = "application/vnd.chainguard.attestation.vsa.v1+json"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"

ANNOTATION_HOST = "dev.chainguard.attestation.host"
ANNOTATION_TIME = "dev.chainguard.attestation.time"
ANNOTATION_RESULT = "dev.chainguard.attestation.result"
ANNOTATION_CREATED = "org.opencontainers.image.created"

# a DNS label-ish name: what a tag and a NAME.pub file can both hold
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,61}[A-Za-z0-9])?")
_TAG_TIME = "%Y%m%dT%H%M%SZ"
TAG = re.compile(
    r"(?P<host>" + HOST_NAME.pattern + r")_(?P<time>[0-9]{8}T[0-9]{6}Z)_(?P<seq>[0-9]{1,12})"
)


def check_host_name(name: str, option: str = "--host") -> str:
    if not HOST_NAME.fullmatch(name):
        raise UsageError(
            f"{option} {name[:80]!r}: a host name is letters, digits, dots and dashes "
            "(at most 63), starting and ending with a letter or digit"
        )
    return name


def default_host_name() -> str:
    """The machine's hostname, made a valid host name (other characters become dashes)."""
    name = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()).strip(".-")[:63].strip(".-")
    return name or "localhost"


@dataclass(frozen=True, slots=True)
class TagInfo:
    host: str
    time: datetime
    seq: int


def attestation_tag(host: str, time: datetime, seq: int) -> str:
    return f"{host}_{time.strftime(_TAG_TIME)}_{seq}"


def parse_tag(tag: str) -> TagInfo | None:
    """What a tag says (unverified); None for a tag that is not ours."""
    from datetime import timezone

    match = TAG.fullmatch(tag)
    if match is None:
        return None
    try:
        when = datetime.strptime(match["time"], _TAG_TIME).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return TagInfo(match["host"], when, int(match["seq"]))


@dataclass(frozen=True, slots=True)
class PublishTarget:
    """Where attest pushes (checked on the command line: parse_reference) and as whom."""

    ref: RegistryRef
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    def connect(self) -> Registry:
        return Registry(
            self.ref, username=self.username, password=self.password, timeout=self.timeout
        )


@dataclass(frozen=True, slots=True)
class Published:
    seq: int
    tag: str
    digest: str  # the manifest's


def artifact_manifest(bundle_digest: str, size: int, annotations: dict[str, str]) -> bytes:
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": VSA_ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": len(EMPTY_CONFIG),
        },
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "digest": bundle_digest, "size": size}],
        "annotations": annotations,
    }
    return json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()


def _summary(bundle: bytes) -> tuple[datetime, str]:
    """This host's own signed VSA (from its log): its time and result, for the tag and the
    annotations."""
    from datetime import timezone

    from chainguard.trust.bundle import read_bundle

    try:
        envelope = read_bundle(bundle, "attestation").envelope
        predicate = json.loads(envelope.payload)["predicate"]  # type: ignore[union-attr]
        when = datetime.fromisoformat(str(predicate["timeVerified"]).replace("Z", "+00:00"))
        return when.astimezone(timezone.utc), str(predicate["verificationResult"])
    except (InputError, AttributeError, KeyError, TypeError, ValueError) as e:
        # only an edit of the state store does this: keep it queued and say where to look
        raise StateError(
            f"a queued attestation is unreadable ({e}); run chainguard log verify"
        ) from e


def publish_one(registry: Registry, host: str, seq: int, bundle: bytes) -> Published:
    when, result = _summary(bundle)
    registry.push_blob(EMPTY_CONFIG)
    digest = registry.push_blob(bundle)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = artifact_manifest(
        digest,
        len(bundle),
        {
            ANNOTATION_HOST: host,
            ANNOTATION_TIME: stamp,
            ANNOTATION_RESULT: result,
            ANNOTATION_CREATED: stamp,
        },
    )
    tag = attestation_tag(host, when, seq)
    return Published(seq, tag, registry.push_manifest(manifest, tag))


def publish_pending(
    connect: Callable[[], Registry],
    host: str,
    pending: Sequence[tuple[int, bytes]],
    published: Callable[[int], None],
) -> tuple[list[int], str | None]:
    """Push each pending attestation, oldest first, marking each one pushed; stop at the first
    that fails (the registry is down or refuses: the rest would fail too). Returns the
    sequence numbers still unpublished and why."""
    if not pending:
        return [], None
    try:
        registry = connect()
    except MissingExtraError:
        raise  # not the registry's fault: the one-line message, exit 2
    except ChainguardError as e:
        return [seq for seq, _ in pending], str(e)
    for index, (seq, bundle) in enumerate(pending):
        try:
            publish_one(registry, host, seq, bundle)
        except ChainguardError as e:
            return [s for s, _ in pending[index:]], str(e)
        published(seq)
    return [], None
