"""A claim endpoint on 127.0.0.1 for the claim tests: a real HTTP server in a thread, started
by the test and stopped when its ``with`` block ends; it answers a bounded number of requests.

Each path is one behaviour of a host's status endpoint, honest or hostile:

    /claim               200, the JSON document given (``claim=``)
    /hang                accepts, then answers nothing until the test ends (at most HANG_S)
    /big                 200, 12 MB declared in Content-Length
    /big-undeclared      200, 12 MB with no Content-Length (ends when the connection closes)
    /endless             200, no Content-Length, a body that never ends (until HANG_S)
    /drip-headers        200, then one header byte every DRIP_S (until HANG_S)
    /drip-body           200, headers, then one body byte every DRIP_S (until HANG_S)
    /redirect-away       302 to /claim on another host name (localhost, not 127.0.0.1)
    /redirect-here       302 to /claim on this server
    /redirect-loop       302 to itself, forever
    /error               500
    /not-json            200, an HTML page
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BIG = 12 * 1000 * 1000
HANG_S = 10.0  # a hanging answer gives up by itself after this long
DRIP_S = 0.05  # a dripping answer's pause between bytes: far below any read timeout
MAX_REQUESTS = 40


@dataclass
class ClaimServer:
    port: int
    claim: Any
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, headers)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


def _handler(server: ClaimServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet

        def do_GET(self) -> None:
            server.requests.append((self.path, dict(self.headers.items())))
            try:
                if len(server.requests) > MAX_REQUESTS:
                    self._send(503, b"too many requests")
                else:
                    self._route()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        def _route(self) -> None:
            match self.path:
                case "/claim":
                    self._send(200, json.dumps(server.claim).encode(), "application/json")
                case "/hang":
                    server.release.wait(HANG_S)
                    self._send(200, b"{}", "application/json")
                case "/big" | "/big-undeclared":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    if self.path == "/big":
                        self.send_header("Content-Length", str(BIG))
                    self.end_headers()
                    piece = b" " * 65536
                    for _ in range(BIG // len(piece)):
                        self.wfile.write(piece)
                case "/endless":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    piece = b" " * 65536
                    while not server.release.wait(0):
                        self.wfile.write(piece)
                case "/drip-headers":
                    self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                    self._drip(b"X-Padding: " + b"a" * 60000 + b"\r\n")
                case "/drip-body":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "60000")
                    self.end_headers()
                    self._drip(b" " * 60000)
                case "/redirect-away":
                    self._redirect(server.url("/claim", host="localhost"))
                case "/redirect-here":
                    self._redirect("/claim")
                case "/redirect-loop":
                    self._redirect("/redirect-loop")
                case "/error":
                    self._send(500, b"internal error")
                case "/not-json":
                    self._send(200, b"<html><body>status: patched</body></html>", "text/html")
                case _:
                    self._send(404, b"not found")

        def _drip(self, data: bytes) -> None:
            for i in range(len(data)):
                if server.release.wait(DRIP_S):
                    return
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def claim_server(claim: Any = None) -> Iterator[ClaimServer]:
    """Serve on 127.0.0.1 (an ephemeral port) until the block ends."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    httpd.daemon_threads = True
    server = ClaimServer(httpd.server_address[1], claim if claim is not None else {})
    httpd.RequestHandlerClass = _handler(server)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
