"""The plumbing of the tests' loopback fakes (fake_bedrock, fake_langfuse,
fake_litellm_admin): an HTTP server on a free 127.0.0.1 port, served from a thread while a `with`
block runs, and handler helpers to read a request and answer it."""

from __future__ import annotations

import json
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
    def __init__(self, fake: Any, handler: type[LoopbackHandler]):
        super().__init__(("127.0.0.1", 0), handler)
        self.fake = fake


Fake = TypeVar("Fake")


@contextmanager
def serving(fake: Fake, handler: type[LoopbackHandler]) -> Iterator[Fake]:
    """Serve `fake` through `handler` on a free 127.0.0.1 port, its `url` set, until the block ends."""
    server = _Server(fake, handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
