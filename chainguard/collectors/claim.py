"""Read a host's claim: the bytes of a local JSON file or of an http(s):// status endpoint.

I/O only (chainguard/claims.py parses and compares). Anything that goes wrong is one
``ClaimError`` line naming the source; nothing else escapes. The HTTP side is deliberately
narrow, because the endpoint belongs to the host whose claims are being checked:

- only ``http://`` and ``https://`` (``file:``, ``ftp:``, ``data:`` … are refused), and no
  credentials in the URL (they would end up in reports);
- no proxy from the environment unless asked (``--claim-env-proxy``), TLS verified with the
  default context;
- ``timeout`` for connecting and for each read, and the whole exchange (connect, TLS, status
  line, headers, body, redirects) within ``DEADLINE_FACTOR`` times it from the start: a
  watchdog shuts the connection's socket down at that deadline, so a server dripping bytes
  (a header line one byte per second, say) cannot hold verify;
- at most ``max_bytes`` of body: a larger Content-Length is refused before reading, and the
  body is read in pieces, never holding more than ``max_bytes + 1`` bytes;
- redirects only to the same scheme, host and port, at most ``MAX_REDIRECTS`` of them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
import time
from typing import IO, TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

from chainguard.errors import ClaimError

if TYPE_CHECKING:
    import urllib.request
    from email.message import Message
    from http.client import HTTPMessage

MAX_REDIRECTS = 5
DEADLINE_FACTOR = 3  # the body complete within this many timeouts of the first connect
_PIECE = 64 * 1024
_SCHEMES = ("http", "https")


def is_url(source: str) -> bool:
    """An http(s) URL, or something with another URL scheme (refused by read_claim); a Windows
    drive letter (``C:\\claim.json``) is a path."""
    try:
        scheme = urlsplit(source).scheme
    except ValueError:  # e.g. an unbalanced "[" in the host
        return "://" in source
    return len(scheme) > 1


def shown_source(source: str) -> str:
    """The source as reports show it: a URL without credentials, query or fragment (where
    tokens live)."""
    if not is_url(source):
        return source
    try:
        parts = urlsplit(source)
    except ValueError:
        return source.split("?", 1)[0]
    query = "?…" if parts.query else ""
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + query


def read_claim(source: str, *, timeout: float, max_bytes: int, env_proxy: bool = False) -> bytes:
    """The claim's bytes (at most ``max_bytes``), or ClaimError. ``env_proxy``: go through the
    proxy the environment names (``https_proxy``, ``no_proxy``…); by default never."""
    if not is_url(source):
        return _read_file(source, max_bytes)
    shown = shown_source(source)
    try:
        parts = urlsplit(source)
        parts.port  # noqa: B018 (a malformed port raises here, not later inside urllib)
    except ValueError as e:
        raise ClaimError(f"{shown}: not a valid URL ({e})") from e
    if parts.scheme.lower() not in _SCHEMES:
        raise ClaimError(
            f"{shown}: a claim is read from a JSON file or an http(s):// URL, "
            f"not a {parts.scheme}: URL"
        )
    if parts.username is not None or parts.password is not None:
        raise ClaimError(f"{shown}: credentials in the URL are not supported")
    if not parts.hostname:
        raise ClaimError(f"{shown}: the URL names no host")
    return _fetch(source, shown, timeout=timeout, max_bytes=max_bytes, env_proxy=env_proxy)


# --- a local file -------------------------------------------------------------------------------


def _read_file(source: str, max_bytes: int) -> bytes:
    # O_NONBLOCK: a FIFO put where the claim file should be cannot block the open
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(source, flags)
    except FileNotFoundError as e:
        raise ClaimError(f"{source}: no such claim file") from e
    except OSError as e:
        raise ClaimError(f"{source}: cannot read the claim file: {e.strerror or e}") from e
    data = bytearray()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ClaimError(f"{source}: not a regular file")
        while len(data) <= max_bytes:
            piece = os.read(fd, min(_PIECE, max_bytes + 1 - len(data)))
            if not piece:
                break
            data += piece
    except OSError as e:
        raise ClaimError(f"{source}: cannot read the claim file: {e.strerror or e}") from e
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ClaimError(f"{source}: claim file larger than {_size(max_bytes)}")
    return bytes(data)


# --- an http(s) endpoint ------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return (
        scheme,
        (parts.hostname or "").lower(),
        parts.port or {"http": 80, "https": 443}.get(scheme),
    )


def _origin_text(origin: tuple[str, str, int | None]) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}:{port}"


def _fetch(url: str, shown: str, *, timeout: float, max_bytes: int, env_proxy: bool) -> bytes:
    import http.client
    import ssl
    import urllib.error
    import urllib.request

    import chainguard

    # S310: read_claim let only http and https through, and the opener has no other handlers
    request = urllib.request.Request(  # noqa: S310
        url,
        headers={
            "Accept": "application/json",
            "User-Agent": f"chainguard/{chainguard.__version__} (claim check)",
        },
    )
    watchdog = _Watchdog(DEADLINE_FACTOR * timeout)
    opener = _opener(_origin(url), shown, env_proxy, watchdog)
    deadline = time.monotonic() + DEADLINE_FACTOR * timeout
    try:
        with watchdog:
            try:
                with opener.open(request, timeout=timeout) as response:
                    _refuse_declared_length(response.headers, shown, max_bytes)
                    body = read_capped(response, shown, max_bytes, deadline)
            except Exception as e:
                if watchdog.fired:  # whatever the cut connection made urllib raise
                    raise ClaimError(f"{shown}: {watchdog.late()}") from e
                raise
            if watchdog.fired:  # the body was cut short by the watchdog, not ended
                raise ClaimError(f"{shown}: {watchdog.late()}")
            return body
    except ClaimError:
        raise
    except urllib.error.HTTPError as e:
        e.close()
        reason = " ".join(str(e.reason).split())[:80]
        raise ClaimError(f"{shown}: HTTP {e.code} {reason}".rstrip()) from e
    except urllib.error.URLError as e:
        raise ClaimError(f"{shown}: {_reason(e.reason, timeout)}") from e
    except TimeoutError as e:  # socket.timeout is TimeoutError
        raise ClaimError(f"{shown}: no answer within {timeout:g} s") from e
    except ssl.SSLError as e:
        raise ClaimError(f"{shown}: TLS failed: {_one_line(e)}") from e
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise ClaimError(f"{shown}: cannot read the claim: {_one_line(e)}") from e


class _Watchdog:
    """Shuts down every socket the fetch opens once ``seconds`` have passed since it was
    entered: a blocked read then returns or fails at once, wherever it is (connect, TLS
    handshake, a header line, the body). ``fired`` tells the caller why."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def watch(self, sock: socket.socket) -> None:
        # A duplicate of the descriptor: TLS wrapping detaches the socket object it is given,
        # while shutting down any descriptor of a connection ends it for all of them.
        dup = sock.dup()
        with self._lock:
            self._sockets.append(dup)
            if self.fired:
                _shutdown(dup)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def late(self) -> str:
        return f"no complete answer within {self.seconds:g} s (the whole exchange's deadline)"


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other end
        sock.shutdown(socket.SHUT_RDWR)


def _opener(
    origin: tuple[str, str, int | None], shown: str, env_proxy: bool, watchdog: _Watchdog
) -> urllib.request.OpenerDirector:
    """Only what an http(s) GET needs: no proxy unless asked, no file/ftp/data handlers, TLS
    verified, redirects kept to ``origin``; every connection watched by ``watchdog``."""
    import http.client
    import ssl
    import urllib.request

    def watched(sock: socket.socket) -> socket.socket:
        watchdog.watch(sock)
        return sock

    class HTTPConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            create = self._create_connection  # type: ignore[has-type]
            self._create_connection = lambda *a, **k: watched(create(*a, **k))
            super().connect()

    class HTTPSConnection(http.client.HTTPSConnection):
        def connect(self) -> None:
            create = self._create_connection  # type: ignore[has-type]
            self._create_connection = lambda *a, **k: watched(create(*a, **k))
            super().connect()

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(HTTPConnection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]

    class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
        max_redirections = MAX_REDIRECTS

        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: IO[bytes],
            code: int,
            msg: str,
            headers: HTTPMessage,
            newurl: str,
        ) -> urllib.request.Request | None:
            try:
                target = _origin(newurl)
            except ValueError:
                target = ("", newurl[:80], None)
            if target != origin:
                fp.close()
                raise ClaimError(
                    f"{shown}: redirected to another origin ({_origin_text(target)}, not "
                    f"{_origin_text(origin)}); refused"
                )
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    opener = urllib.request.OpenerDirector()
    for handler in (
        # the environment's proxies only when asked (ProxyHandler() reads them)
        urllib.request.ProxyHandler() if env_proxy else urllib.request.ProxyHandler({}),
        urllib.request.UnknownHandler(),
        HTTPHandler(),
        HTTPSHandler(context=ssl.create_default_context()),
        urllib.request.HTTPDefaultErrorHandler(),
        SameOriginRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _refuse_declared_length(headers: Message, shown: str, max_bytes: int) -> None:
    declared = headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise ClaimError(
            f"{shown}: the answer is {_size(int(declared))}, over the {_size(max_bytes)} cap"
        )


class Readable(Protocol):
    def read(self, size: int, /) -> bytes | None: ...


def read_capped(stream: Readable, shown: str, max_bytes: int, deadline: float) -> bytes:
    """At most ``max_bytes`` from ``stream``, read in pieces: never asks for more than
    ``max_bytes + 1`` bytes in all, so never holds more."""
    body = bytearray()
    while len(body) <= max_bytes:
        if time.monotonic() > deadline:
            raise ClaimError(f"{shown}: the answer did not arrive in time")
        piece = stream.read(min(_PIECE, max_bytes + 1 - len(body)))
        if not piece:
            return bytes(body)
        body += piece
    raise ClaimError(f"{shown}: the answer is larger than the {_size(max_bytes)} cap")


def _reason(reason: object, timeout: float) -> str:
    import socket
    import ssl

    match reason:
        case ssl.SSLCertVerificationError():
            return f"TLS certificate verification failed: {_one_line(reason.verify_message)}"
        case ssl.SSLError():
            return f"TLS failed: {_one_line(reason)}"
        case TimeoutError():
            return f"no answer within {timeout:g} s"
        case ConnectionRefusedError():
            return "connection refused"
        case socket.gaierror():
            return f"cannot resolve the host: {_one_line(reason.strerror or reason)}"
        case OSError():
            return f"cannot connect: {_one_line(reason.strerror or reason)}"
        case _:
            return _one_line(reason)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:200]


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n} bytes"
