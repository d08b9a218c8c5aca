"""A small fault-injecting HTTP reverse proxy on loopback, for end-to-end tests.

A real node sits behind it (its GROUNDSWELL_PUBLIC_URL is the proxy's URL, while `serve`
listens on another port), so every request its peers send goes through here. The proxy
forwards each request unchanged (header lines in order and case, duplicates kept; the raw
path; the exact body bytes) and records what it forwarded. A test can arm one fault: "forward
the next matching request, but answer the client with this status instead of the upstream's
answer" — the receiver did its work and committed, the sender saw a failure. That is the
"500, then 200 on the retry" case of docs/federation.md §9.1, produced by the network path
itself rather than by a hook inside the receiver.

    with FaultProxy() as proxy:
        node = Node(root, "hub", public_url=proxy.url)
        proxy.upstream = node.listen_url
        proxy.answer_next_with(500, method="PUT", path_prefix="/federation/v1/send/")

Only bodies with a Content-Length are forwarded (our nodes never send chunked requests); a
chunked request is answered 501 by the proxy itself, so it can never be half-forwarded.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

__all__ = ["Exchange", "FaultProxy"]

UPSTREAM_TIMEOUT_S = 60.0
# Hop-by-hop fields (RFC 9110 §7.6.1) belong to one connection and are not forwarded.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)


@dataclass(frozen=True)
class Exchange:
    """One request the proxy forwarded: what the client sent, what the upstream answered
    (status and body) and the status the client was told (they differ only when a fault was
    injected)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    upstream_status: int
    upstream_body: bytes
    client_status: int

    @property
    def faulted(self) -> bool:
        return self.upstream_status != self.client_status

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclass(frozen=True)
class _Fault:
    status: int
    method: str
    path_prefix: str
    body_contains: bytes

    def matches(self, method: str, path: str, body: bytes) -> bool:
        return method == self.method and path.startswith(self.path_prefix) and self.body_contains in body


class FaultProxy:
    """A threaded reverse proxy to `upstream` (an http://host:port URL, settable after start,
    because the upstream's settings usually need the proxy's URL first)."""

    def __init__(self, upstream: str = "") -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._fault: _Fault | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def exchanges(self) -> list[Exchange]:
        """Everything forwarded so far, oldest first (a copy)."""
        with self._lock:
            return list(self._exchanges)

    def answer_next_with(
        self, status: int, *, method: str = "PUT", path_prefix: str = "/", body_contains: bytes = b""
    ) -> None:
        """Arm one fault: the next request with this method, path prefix and body content is
        forwarded as usual, but its client gets `status` (and a short plain-text body)."""
        with self._lock:
            self._fault = _Fault(status, method.upper(), path_prefix, body_contains)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- the request path ---------------------------------------------------------------

    def _take_fault(self, method: str, path: str, body: bytes) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is not None and fault.matches(method, path, body):
                self._fault = None
                return fault
            return None

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        target = urlsplit(self.upstream)
        if not target.hostname or not target.port:
            return 502, [("Content-Type", "text/plain")], b"fault proxy: no upstream configured"
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=UPSTREAM_TIMEOUT_S)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        except OSError as exc:
            return 502, [("Content-Type", "text/plain")], f"fault proxy: upstream failed: {exc}".encode()
        finally:
            connection.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the nodes' HTTP clients expect

            def _proxy(self) -> None:
                if self.headers.get("Transfer-Encoding"):
                    self._reply(501, [], b"fault proxy: only Content-Length bodies are forwarded")
                    self.close_connection = True
                    return
                declared = (self.headers.get("Content-Length") or "0").strip()
                if not declared.isdigit():
                    self._reply(400, [], b"fault proxy: Content-Length is not a number")
                    self.close_connection = True
                    return
                length = int(declared)
                body = self.rfile.read(length) if length else b""
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
                status, response_headers, response_body = proxy._forward(
                    self.command, self.path, headers, body
                )
                fault = proxy._take_fault(self.command, self.path, body)
                client_status = fault.status if fault else status
                proxy._record(
                    Exchange(
                        self.command, self.path, tuple(headers), body, status, response_body, client_status
                    )
                )
                if fault is not None:
                    message = f"fault injected by the test proxy (upstream answered {status})".encode()
                    self._reply(fault.status, [("Content-Type", "text/plain")], message)
                else:
                    kept = [
                        (k, v)
                        for k, v in response_headers
                        if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
                    ]
                    self._reply(status, kept, response_body)

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response_only(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _proxy

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the exchanges are recorded, not printed."""

        return Handler
