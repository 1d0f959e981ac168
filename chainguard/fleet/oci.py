"""The OCI registry as chainguard uses it: push a blob and a manifest, list tags, read a
manifest and a blob, all through oras-py (its session, auth backends and docker config).

The registry is not trusted: every answer is read with a size bound, every request has a
timeout, every blob is checked against its digest, tag listing stops after a bounded number
of pages and tags. One attempt per request: oras retries a failed request five times with
sleeps that add up to minutes, and a cron run or a status check must answer within its
timeout (an attestation that could not be pushed is pushed by the next run).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from chainguard.errors import RegistryError, UsageError

if TYPE_CHECKING:
    import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PASSWORD_ENV = "CHAINGUARD_REGISTRY_PASSWORD"  # noqa: S105 (a variable name) with --username; never on the command line
PLAIN_HTTP_HOST = "127.0.0.1"  # the one host spoken to over plain HTTP without --insecure

MAX_MANIFEST = 64 * 1024  # an attestation manifest is well under 2 KiB
MAX_TAG_PAGE = 1024 * 1024
MAX_TAGS = 50_000  # in all pages together (about 2 MiB of names)
MAX_PAGES = 60
TAGS_PER_PAGE = 1000
MAX_ERROR_BODY = 4096
DEFAULT_TIMEOUT = 10.0  # seconds, connect and each read
READ_DEADLINE = 6  # a whole answer within this many timeouts

# distribution/reference: a path of lower-case components
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """``oci://HOST[:PORT]/REPO``, and whether it is spoken to over plain HTTP."""

    host: str
    port: int | None
    repository: str
    plain_http: bool

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def base(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.netloc}/v2/{self.repository}"

    def __str__(self) -> str:
        return f"oci://{self.netloc}/{self.repository}"


class RegistryContentError(RegistryError):
    """One artifact is unusable (missing, oversized, not JSON, not matching its digest), while
    the registry itself answers: fleet status counts it against that artifact, not the run."""


def parse_reference(text: str, *, insecure: bool, option: str) -> RegistryRef:
    """``oci://HOST[:PORT]/REPO`` (HTTPS; plain HTTP for 127.0.0.1 or with --insecure), or
    ``http://HOST[:PORT]/REPO`` to ask for plain HTTP explicitly: refused for any other host
    than 127.0.0.1 unless --insecure, before anything is sent. A usage error (exit 2)."""
    try:
        parts = urlsplit(text)
    except ValueError as e:  # an unclosed "[" (IPv6), for one
        raise UsageError(f"{option} {text!r}: not a valid address ({e})") from None
    if parts.scheme not in ("oci", "http", "https"):
        raise UsageError(f"{option} {text!r}: give oci://HOST[:PORT]/REPO")
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise UsageError(f"{option} {text!r}: the port is not a number 1-65535") from None
    repository = parts.path.strip("/")
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"{option}: no credentials in the address; use --username with ${PASSWORD_ENV} "
            "or docker login"
        )
    if not _HOST.fullmatch(host) or parts.query or parts.fragment:
        raise UsageError(f"{option} {text!r}: give oci://HOST[:PORT]/REPO")
    if not _REPOSITORY.fullmatch(repository) or len(repository) > 255:
        raise UsageError(
            f"{option} {text!r}: the repository must be lower-case path components "
            "(e.g. fleet/attestations)"
        )
    if parts.scheme == "https":
        plain = False
    elif parts.scheme == "http":
        if host != PLAIN_HTTP_HOST and not insecure:
            raise UsageError(
                f"{option} {text!r}: refusing plain HTTP to {host} (credentials and "
                f"attestations in the clear); use HTTPS, or pass --insecure"
            )
        plain = True
    else:
        plain = host == PLAIN_HTTP_HOST or insecure
    return RegistryRef(host.lower(), port, repository, plain)


def check_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise RegistryError(f"not a valid OCI tag: {tag[:80]!r}")
    return tag


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """One repository of one registry, over oras-py's session and auth.

    Credentials: ``username`` with ``password`` (basic auth, or exchanged for a token when the
    registry asks for one); else whatever docker config holds for the host."""

    def __init__(
        self,
        ref: RegistryRef,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        from chainguard._extras import require_extra

        require_extra("fleet")
        import oras.provider  # type: ignore[import-untyped]
        import requests.adapters

        class OneAttempt(oras.provider.Registry):  # type: ignore[misc]
            # oras's do_request without its retry decorator (see the module docstring)
            do_request = oras.provider.Registry.do_request.__wrapped__

        class Bounded(requests.adapters.HTTPAdapter):
            def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = timeout
                return super().send(request, *args, **kwargs)

        _quiet_oras_logging()
        self.ref = ref
        self._timeout = timeout
        self._oras: Any = OneAttempt(hostname=ref.netloc, insecure=ref.plain_http)
        session = self._oras.session
        session.trust_env = False  # no proxy or netrc from the environment, as the webhook
        session.max_redirects = 3
        for prefix in ("http://", "https://"):
            session.mount(prefix, Bounded(max_retries=0))
        if username is not None:
            self._oras.auth.set_basic_auth(username, password or "")
        else:
            container = self._oras.get_container(f"{ref.netloc}/{ref.repository}")
            try:
                self._oras.auth.load_configs(container, configs=_docker_configs())
            except Exception as e:  # a broken docker config: say so, in one line
                raise RegistryError(f"{ref}: cannot read the docker config: {e}") from e
        # base64 user:password, from the command line or the docker config; None: anonymous
        self._basic: str | None = getattr(self._oras.auth, "_basic_auth", None)
        self._pinged = False
        self._basic_challenge = False  # the registry asked for Basic: no token exchange

    def _ping(self) -> None:
        """GET /v2/ once, as docker does, to learn how the registry authenticates. oras's
        token backend answers a Bearer challenge (the token exchange); a registry that asks
        for Basic (htpasswd) gets the credentials on each request instead, and requests drops
        them on a redirect to another host."""
        import requests

        self._pinged = True
        url = f"{'http' if self.ref.plain_http else 'https'}://{self.ref.netloc}/v2/"
        try:
            response = self._oras.session.get(url, stream=True)
        except requests.RequestException as e:
            raise RegistryError(f"{self.ref}: cannot reach the registry: {_reason(e)}") from e
        response.close()
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.lower().startswith("bearer"):
            self._check_realm(challenge)
        if response.status_code != 401 or not challenge.lower().startswith("basic"):
            return
        if self._basic is None:
            raise RegistryError(
                f"{self.ref}: the registry asks for credentials (HTTP 401): docker login, or "
                f"--username with ${PASSWORD_ENV}"
            )
        self._oras.session.headers["Authorization"] = f"Basic {self._basic}"
        self._basic_challenge = True

    def _check_realm(self, challenge: str) -> None:
        """The token service a Bearer challenge names gets the credentials: over HTTPS only,
        unless it is on this machine, or on the registry's own host when the registry was
        allowed plain HTTP (--insecure)."""
        import re
        from urllib.parse import urlsplit

        found = re.search(r'realm="([^"]*)"', challenge, re.IGNORECASE)
        realm = urlsplit(found.group(1) if found else "")
        if realm.scheme == "https":
            return
        own = urlsplit(f"//{self.ref.netloc}").hostname
        plain_ok = {PLAIN_HTTP_HOST, *([own] if self.ref.plain_http else [])}
        if realm.scheme == "http" and realm.hostname in plain_ok:
            return
        raise RegistryError(
            f"{self.ref}: the registry sends clients to the token service "
            f"{realm.geturl() or '(none named)'!r}, which would receive the credentials in the "
            "clear; refused (it must be HTTPS)"
        )

    # ------------------------------------------------------------------------------ requests

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> requests.Response:
        import requests

        if not self._pinged:
            self._ping()
        try:
            # after a Basic challenge a 401 means wrong credentials: no token realm to try
            send = self._oras.session.request if self._basic_challenge else self._oras.do_request
            response: requests.Response = send(
                method=method, url=url, data=data, headers=dict(headers or {}), stream=True
            )
            if response.status_code == 401 and not self._basic_challenge:
                response = self._rescoped(response, method, url, headers, data)
            return response
        except requests.RequestException as e:
            raise RegistryError(f"{self.ref}: {method} failed: {_reason(e)}") from e
        except Exception as e:  # oras's auth raises ValueError and its own errors
            raise RegistryError(f"{self.ref}: {method} failed: {e}") from e

    def _rescoped(
        self,
        response: requests.Response,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        data: bytes | None,
    ) -> requests.Response:
        """The request again, with a token for the scope the registry's 401 asks for. oras
        keeps the token it holds whatever scope a 401 names (it asks again only on 403), and
        a token registry answers a request beyond a token's scope (a push after the pull that
        got the token) with 401 and the wider scope: GHCR, Docker Hub, distribution."""
        challenge = response.headers.get("WWW-Authenticate", "")
        if not challenge.lower().startswith("bearer"):
            return response
        self._check_realm(challenge)
        fresh, changed = self._oras.auth.authenticate_request(
            response, dict(headers or {}), refresh=True
        )
        if not changed:
            return response
        response.close()
        retried: requests.Response = self._oras.session.request(
            method=method, url=url, data=data, headers=fresh, stream=True
        )
        return retried

    def _read(self, response: requests.Response, limit: int, what: str) -> bytes:
        """The body, at most ``limit`` bytes (decoded): more is refused, not truncated; and
        within READ_DEADLINE timeouts in all (a server dripping bytes is cut off)."""
        import time

        import urllib3

        deadline = time.monotonic() + READ_DEADLINE * self._timeout
        with response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise RegistryContentError(
                    f"{self.ref}: {what} is {declared} bytes (limit {limit})"
                )
            body = bytearray()
            raw = response.raw
            # read1: what has arrived, so the deadline is checked while a server drips bytes
            # (read(n) waits for all n); urllib3 1.x has no read1
            read = getattr(raw, "read1", None) or raw.read
            try:
                while chunk := read(65536, decode_content=True):
                    body += chunk
                    if len(body) > limit:
                        raise RegistryContentError(f"{self.ref}: {what} exceeds {limit} bytes")
                    if time.monotonic() > deadline:
                        raise RegistryError(f"{self.ref}: reading {what} timed out")
            except (urllib3.exceptions.HTTPError, OSError) as e:
                raise RegistryError(f"{self.ref}: reading {what} failed: {_reason(e)}") from e
            return bytes(body)

    def _fail(self, response: requests.Response, what: str) -> RegistryError:
        """The error for an unexpected status: a missing manifest or blob (404) is the
        artifact's problem; anything else (auth, server errors) the registry's."""
        detail = ""
        try:
            body = self._read(response, MAX_ERROR_BODY, "an error answer")
            import json

            errors = json.loads(body).get("errors") or []
            detail = "; ".join(str(e.get("code", "")) for e in errors[:3] if isinstance(e, dict))
        except (RegistryError, ValueError, AttributeError):
            pass
        shown = f" ({detail[:120]})" if detail else ""
        kind = RegistryContentError if response.status_code == 404 else RegistryError
        return kind(f"{self.ref}: {what}: HTTP {response.status_code}{shown}")

    # -------------------------------------------------------------------------------- push

    def blob_exists(self, digest: str) -> bool:
        response = self._request("HEAD", f"{self.ref.base}/blobs/{digest}")
        response.close()
        return bool(response.status_code == 200)

    def push_blob(self, data: bytes) -> str:
        """Upload ``data`` (monolithic POST then PUT) unless the registry has it; its digest."""
        digest = sha256_digest(data)
        if self.blob_exists(digest):
            return digest
        started = self._request("POST", f"{self.ref.base}/blobs/uploads/")
        location = started.headers.get("Location")
        if started.status_code != 202 or not location:
            raise self._fail(started, "starting a blob upload")
        started.close()
        upload = urljoin(f"{self.ref.base}/", location)
        if _origin(upload) != _origin(self.ref.base):
            raise RegistryError(f"{self.ref}: the upload location is on another host")
        upload += ("&" if "?" in upload else "?") + f"digest={digest}"
        done = self._request(
            "PUT", upload, data=data, headers={"Content-Type": "application/octet-stream"}
        )
        if done.status_code != 201:
            raise self._fail(done, "uploading a blob")
        done.close()
        return digest

    def push_manifest(self, manifest: bytes, tag: str) -> str:
        response = self._request(
            "PUT",
            f"{self.ref.base}/manifests/{check_tag(tag)}",
            data=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        if response.status_code != 201:
            raise self._fail(response, f"pushing manifest {tag}")
        response.close()
        return sha256_digest(manifest)

    # -------------------------------------------------------------------------------- read

    def tags(self, prefix: str | None = None) -> tuple[list[str], bool]:
        """The repository's tags (none when it does not exist yet), and whether the listing
        was cut at MAX_TAGS / MAX_PAGES. With ``prefix``, only the tags starting with it: the
        listing starts after ``prefix`` (the distribution API's ``last``; tags are listed in
        lexical order, so they are one run) and stops past the run."""
        import json
        from urllib.parse import quote

        url = f"{self.ref.base}/tags/list?n={TAGS_PER_PAGE}"
        if prefix is not None:
            url += f"&last={quote(prefix, safe='')}"
        found: list[str] = []
        for _ in range(MAX_PAGES):
            response = self._request("GET", url)
            if response.status_code == 404:
                response.close()
                return found, False
            if response.status_code != 200:
                raise self._fail(response, "listing tags")
            link = response.links.get("next", {}).get("url")
            body = self._read(response, MAX_TAG_PAGE, "a tag list page")
            try:
                tags = json.loads(body).get("tags") or []
            except (ValueError, AttributeError, RecursionError) as e:
                what = "nested too deep" if isinstance(e, RecursionError) else str(e)[:200]
                raise RegistryError(f"{self.ref}: the tag list is not JSON: {what}") from None
            if not isinstance(tags, list):
                raise RegistryError(f"{self.ref}: the tag list is not a list")
            names = [t for t in tags if isinstance(t, str) and _TAG.fullmatch(t)]
            past_run = False
            if prefix is not None:
                # a registry that ignores `last` lists earlier tags too: skipped, not trusted
                past_run = any(t > prefix and not t.startswith(prefix) for t in names)
                names = [t for t in names if t.startswith(prefix)]
            found += names
            if len(found) >= MAX_TAGS:
                return found[:MAX_TAGS], True
            if not link or not tags or past_run:
                return found, False
            url = urljoin(f"{self.ref.base}/", link)
            if _origin(url) != _origin(self.ref.base):
                raise RegistryError(f"{self.ref}: the next tag page is on another host")
        return found, True

    def manifest(self, tag: str) -> bytes:
        response = self._request(
            "GET", f"{self.ref.base}/manifests/{check_tag(tag)}", headers={"Accept": OCI_MANIFEST}
        )
        if response.status_code != 200:
            raise self._fail(response, f"reading manifest {tag}")
        return self._read(response, MAX_MANIFEST, f"manifest {tag}")

    def blob(self, digest: str, limit: int) -> bytes:
        """The blob, which must hash to ``digest``."""
        if not DIGEST.fullmatch(digest):
            raise RegistryContentError(f"{self.ref}: not a sha256 digest: {digest[:80]!r}")
        response = self._request("GET", f"{self.ref.base}/blobs/{digest}")
        if response.status_code != 200:
            raise self._fail(response, f"reading blob {digest[:19]}")
        data = self._read(response, limit, f"blob {digest[:19]}")
        if sha256_digest(data) != digest:
            raise RegistryContentError(f"{self.ref}: blob {digest[:19]} does not match its digest")
        return data


def _docker_configs() -> list[str] | None:
    """$DOCKER_CONFIG/config.json as docker reads it (oras reads only ~/.docker/config.json)."""
    import os
    from pathlib import Path

    directory = os.environ.get("DOCKER_CONFIG")
    config = Path(directory) / "config.json" if directory else None
    return [str(config)] if config is not None and config.is_file() else None


def _quiet_oras_logging() -> None:
    """oras logs warnings through logging with no handler, which Python then prints to
    stderr; chainguard's errors are one line of its own."""
    import logging

    logger = logging.getLogger("oras")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _reason(error: Exception) -> str:
    """A connection error's cause in a few words (requests nests urllib3's reasons)."""
    text = str(error)
    for marker in ("Connection refused", "timed out", "Name or service not known"):
        if marker in text:
            return marker.lower()
    return " ".join(text.split())[:200]
