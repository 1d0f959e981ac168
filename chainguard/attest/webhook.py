"""Delivering signed attestations to a webhook: POST, bounded retries with backoff, short
timeouts, no proxy from the environment, redirects only within the same origin."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chainguard.errors import UsageError

if TYPE_CHECKING:
    import urllib.request


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    attempts: int = 3
    timeout: float = 5.0  # seconds, connect and each read
    backoff: float = 0.5  # seconds before the 2nd attempt, doubled after each


def check_url(url: str) -> str:
    """An http(s) URL with a host, or a usage error (a typo must not silently send nowhere)."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # an unclosed "[" (IPv6) or a port out of range
        valid = False
    if not valid:
        raise UsageError(f"--webhook {url!r}: must be an http:// or https:// URL with a host")
    return url


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _opener(url: str) -> urllib.request.OpenerDirector:
    import urllib.request

    class SameOrigin(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: object,
            code: int,
            msg: str,
            headers: object,
            newurl: str,
        ) -> urllib.request.Request | None:
            if _origin(newurl) != _origin(url) or code not in (307, 308):
                return None  # not followed: the POST's answer is the redirect, not a success
            # S310: check_url let only http and https through; a redirect keeps the origin
            return urllib.request.Request(  # noqa: S310
                newurl, data=req.data, headers=dict(req.header_items()), method="POST"
            )

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), SameOrigin())


def post(url: str, body: bytes, policy: DeliveryPolicy) -> str | None:
    """POST ``body``; None once a 2xx answer came, else why the last attempt failed."""
    import urllib.error
    import urllib.request

    opener = _opener(url)
    reason = "not attempted"
    for attempt in range(policy.attempts):
        if attempt:
            time.sleep(policy.backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(  # noqa: S310 (check_url: http and https only)
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with opener.open(request, timeout=policy.timeout) as response:
                if 200 <= response.status < 300:
                    return None
                reason = f"HTTP {response.status}"
        except urllib.error.HTTPError as e:
            reason = f"HTTP {e.code}"
            if 300 <= e.code < 400:
                reason += " (redirect not followed)"
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = str(getattr(e, "reason", e))
    return reason


def deliver_pending(
    url: str,
    pending: list[tuple[int, bytes]],
    delivered: Callable[[int], None],
    policy: DeliveryPolicy,
) -> tuple[list[int], str | None]:
    """Send each pending attestation, oldest first, marking each one acknowledged; stop at the
    first that cannot be delivered (the receiver is down: the rest would fail too and only add
    waiting). Returns the sequence numbers still undelivered and why."""
    for index, (seq, body) in enumerate(pending):
        reason = post(url, body, policy)
        if reason is not None:
            return [s for s, _ in pending[index:]], reason
        delivered(seq)
    return [], None
