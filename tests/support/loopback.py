"""The plumbing of the tests' loopback fakes (fake_bedrock, fake_langfuse,
fake_litellm_admin): an HTTP server on a free 127.0.0.1 port, served from a thread while a `with`
block runs, and handler helpers to read a request and answer it."""

from __future__ import annotations

import json
import queue
import selectors
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

# What an AWS load balancer answers while the service behind it (re)starts.
ALB_UNAVAILABLE = "<html><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"


@dataclass(frozen=True)
class RecordedRequest:
    """A JSON API request as a fake records it."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any


Recorded = TypeVar("Recorded", bound=RecordedRequest)


class LoopbackHandler(BaseHTTPRequestHandler):
    """The base of a fake's request handler; `self.fake` is the fake being served."""

    server: _Server

    @property
    def fake(self) -> Any:
        return self.server.fake

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def read_json(self) -> Any:
        """The body as JSON; None without one, the raw bytes when it is not JSON."""
        raw = self.read_body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw

    def recorded_request(self, kind: type[Recorded] = RecordedRequest) -> Recorded:
        parts = urlsplit(self.path)
        return kind(self.command, parts.path, parse_qs(parts.query), self.headers.get("Authorization"),
                    self.read_json())

    def send_bytes(self, status: int, data: bytes, content_type: str, headers: Mapping[str, str] = {}) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def reply(self, status: int, payload: Any, headers: Mapping[str, str] = {}) -> None:
        """`payload` as JSON, or as HTML when it is a string (a load balancer's or a framework's page)."""
        if isinstance(payload, str):
            self.send_bytes(status, payload.encode(), "text/html", headers)
        else:
            self.send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    """Serves from `serve` until `stop`; each connection by a thread of the server's own, started
    only when none is waiting.

    - A thread started per connection (ThreadingMixIn's way) made every request wait for the new
      thread's first turn on a core: with both cores busy, as under `make unit`, the smoke step's
      300 requests took 1.5 s instead of 0.35 s.
    - socketserver's `serve_forever` sees `shutdown` only at its next poll: 9 ms a server on
      average with a 10 ms poll, a second over the unit tier's 110 fakes. `stop` wakes `serve` at once.
    """

    def __init__(self, fake: Any, handler: type[LoopbackHandler]):
        super().__init__(("127.0.0.1", 0), handler)
        self.fake = fake
        self._connections: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = self._waiting = 0
        self._wake, self._woken = socket.socketpair()

    def serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._woken, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._woken in ready:
                    return
                self._handle_request_noblock()

    def stop(self) -> None:
        self._wake.send(b"\0")

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if self._waiting:
                self._waiting -= 1
            else:  # every thread is on a connection (a keep-alive client holds its own): one more
                self._started += 1
                threading.Thread(target=self._serve_connections, daemon=True).start()
        self._connections.put((request, client_address))

    def _serve_connections(self) -> None:
        while (connection := self._connections.get()) is not None:
            self.process_request_thread(*connection)
            with self._lock:
                self._waiting += 1

    def server_close(self) -> None:
        super().server_close()
        self._wake.close()
        self._woken.close()
        for _ in range(self._started):  # each thread ends once done with its connection
            self._connections.put(None)


Fake = TypeVar("Fake")


@contextmanager
def serving(fake: Fake, handler: type[LoopbackHandler]) -> Iterator[Fake]:
    """Serve `fake` through `handler` on a free 127.0.0.1 port, its `url` set, until the block ends."""
    server = _Server(fake, handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.stop()
        thread.join()
        server.server_close()
