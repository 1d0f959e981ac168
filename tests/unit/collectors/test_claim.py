"""Reading a claim (chainguard/collectors/claim.py): a file, or an http(s) endpoint that may be
hostile. The endpoints are a real server on 127.0.0.1 (tests/support/claim_server.py); nothing
but loopback is ever contacted."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.claim_server import BIG, MAX_REQUESTS, ClaimServer, claim_server

from chainguard.claims import check_claim
from chainguard.collectors.claim import MAX_REDIRECTS, read_capped, read_claim, shown_source
from chainguard.errors import ClaimError
from chainguard.models import DeploymentInfo, ExpectedState, Measured

MIB = 1024 * 1024
CLAIM = {"deployment": "svc", "version": "1.0"}
MEASURED = Measured("verify model", ExpectedState(DeploymentInfo("svc", "1.0"), ()))


def read(source: str, *, timeout: float = 2.0, max_bytes: int = MIB) -> bytes:
    return read_claim(source, timeout=timeout, max_bytes=max_bytes)


def refused(source: str, *needles: str, timeout: float = 2.0) -> str:
    """read_claim refuses ``source`` with one line naming each needle."""
    with pytest.raises(ClaimError) as e:
        read(source, timeout=timeout)
    message = str(e.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


@pytest.fixture
def server() -> Iterator[ClaimServer]:
    with claim_server(CLAIM) as s:
        yield s


# --- files ------------------------------------------------------------------------------------


def test_a_claim_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(CLAIM))
    assert json.loads(read(str(path))) == CLAIM


def test_a_missing_file_a_directory_and_an_oversized_file(tmp_path: Path) -> None:
    refused(str(tmp_path / "absent.json"), "absent.json", "no such claim file")
    refused(str(tmp_path), "not a regular file")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MIB + 1))
    refused(str(big), "larger than 1 MiB")
    exact = tmp_path / "exact.json"
    exact.write_bytes(b" " * MIB)
    assert len(read(str(exact))) == MIB


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX FIFO")
def test_a_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "claim.json"
    os.mkfifo(fifo)
    refused(str(fifo), "not a regular file")


@pytest.mark.parametrize(
    "source",
    ["file:///etc/passwd", "ftp://127.0.0.1/claim.json", "data:application/json,{}", "gopher://x"],
)
def test_only_http_and_https_urls(source: str) -> None:
    refused(source, "JSON file or an http(s):// URL")


def test_credentials_in_the_url_are_refused_and_never_shown() -> None:
    message = refused("http://admin:s3cret@127.0.0.1:1/claim", "credentials")
    assert "s3cret" not in message


def test_the_query_is_not_shown() -> None:
    assert shown_source("https://h.example/status?token=abc#x") == "https://h.example/status?…"
    assert shown_source("claims/host.json") == "claims/host.json"
    assert shown_source("C:\\claims\\host.json") == "C:\\claims\\host.json"


# --- http: the honest endpoint ------------------------------------------------------------------


def test_an_endpoint_is_read_with_json_accept_and_a_chainguard_user_agent(
    server: ClaimServer,
) -> None:
    assert json.loads(read(server.url("/claim"))) == CLAIM
    ((path, headers),) = server.requests
    assert path == "/claim"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("chainguard/")


def test_a_redirect_on_the_same_host_is_followed(server: ClaimServer) -> None:
    assert json.loads(read(server.url("/redirect-here"))) == CLAIM
    assert server.paths == ["/redirect-here", "/claim"]


def test_no_proxy_from_the_environment(
    server: ClaimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy set in the environment (here: a closed port) is not used."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert json.loads(read(server.url("/claim"))) == CLAIM


def test_the_environments_proxy_only_when_asked(
    server: ClaimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--claim-env-proxy: the request goes to the proxy the environment names (a second local
    server standing in for it, which sees the absolute URL), and only then."""
    from support.claim_server import claim_server

    with claim_server(CLAIM) as proxy:
        for name in ("http_proxy", "HTTP_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        target = server.url("/claim")
        direct = read_claim(target, timeout=2.0, max_bytes=1 << 20)
        assert json.loads(direct) == CLAIM and proxy.requests == []
        with contextlib.suppress(ClaimError):  # the stand-in answers 404 to a proxied URL
            read_claim(target, timeout=2.0, max_bytes=1 << 20, env_proxy=True)
        assert proxy.paths == [target]  # a proxy is asked for the absolute URL


# --- http: the hostile endpoint -----------------------------------------------------------------


def test_a_hanging_endpoint_times_out(server: ClaimServer) -> None:
    started = time.monotonic()
    refused(server.url("/hang"), "/hang", "no answer within 0.5 s", timeout=0.5)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("path", ["/big", "/big-undeclared"])
def test_a_12_mb_answer_is_refused(server: ClaimServer, path: str) -> None:
    refused(server.url(path), "1 MiB cap")
    assert BIG > 11 * MIB


def test_a_redirect_to_another_host_is_refused_without_contacting_it(
    server: ClaimServer,
) -> None:
    refused(
        server.url("/redirect-away"),
        "redirected to another origin",
        f"http://localhost:{server.port}",
    )
    assert server.paths == ["/redirect-away"]


def test_a_redirect_loop_is_bounded(server: ClaimServer) -> None:
    refused(server.url("/redirect-loop"), "HTTP 302")
    assert len(server.requests) <= MAX_REDIRECTS + 1 < MAX_REQUESTS


def test_an_http_error_status(server: ClaimServer) -> None:
    refused(server.url("/error"), "HTTP 500")
    refused(server.url("/nowhere"), "HTTP 404")


def test_connection_refused() -> None:
    refused(f"http://127.0.0.1:{_closed_port()}/claim", "connection refused")


def test_tls_failure(server: ClaimServer) -> None:
    """https to a server that speaks plain HTTP: the handshake fails, nothing is read."""
    refused(f"https://127.0.0.1:{server.port}/claim", "TLS")


def test_the_body_is_read_in_pieces_never_past_the_cap() -> None:
    class Endless(io.RawIOBase):
        def __init__(self) -> None:
            self.asked: list[int] = []

        def read(self, n: int = -1) -> bytes:
            assert n > 0
            self.asked.append(n)
            return b"x" * n

    stream = Endless()
    with pytest.raises(ClaimError, match="cap"):
        read_capped(stream, "src", 200_000, time.monotonic() + 10)
    assert sum(stream.asked) == 200_001
    assert max(stream.asked) <= 64 * 1024


# --- check_claim: every failure is one claim-unavailable finding ---------------------------------


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/hang", "no answer"),
        ("/big", "cap"),
        ("/big-undeclared", "cap"),
        ("/redirect-away", "another origin"),
        ("/error", "HTTP 500"),
        ("/not-json", "not valid JSON"),
    ],
)
def test_check_claim_turns_a_bad_endpoint_into_one_finding(
    server: ClaimServer, path: str, needle: str
) -> None:
    (finding,) = check_claim(server.url(path), MEASURED, timeout=0.5, max_bytes=MIB)
    assert finding.rule == "claim-unavailable"
    assert finding.path == server.url(path)
    assert needle in finding.message


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"version": "1", "version": "2"}', "duplicate JSON key"),
        (b"[]", "is a JSON object, not an array"),
        (b'{"packages": {"torch": 2.6}}', "packages.torch must be a string, not a number"),
    ],
)
def test_check_claim_turns_a_bad_file_into_one_finding(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    path = tmp_path / "claim.json"
    path.write_bytes(content)
    (finding,) = check_claim(str(path), MEASURED, timeout=1, max_bytes=MIB)
    assert (finding.rule, finding.path) == ("claim-unavailable", str(path))
    assert needle in finding.message


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
