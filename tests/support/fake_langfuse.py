"""A loopback stand-in for the parts of Langfuse's public API a tracing client talks to, recording
every request so tests can see which project (key pair) received what.

Routes (as Langfuse v4 web serves them to SDK v4):

- GET /api/public/projects: the SDK's auth check; answers 200 with the one project the Basic-auth
  key pair belongs to (`{"data": [{"id", "name", "organization", "metadata"}]}`), 401 for a pair
  the fake was not told about (when `projects` is given) or without Basic auth;
- POST /api/public/otel/v1/traces: OTLP/HTTP trace ingestion; answers 200 with an empty
  ExportTraceServiceResponse;
- GET /api/public/health: 200;
- anything else: 404.

Every request is recorded with its method, path, Basic-auth public key (and secret key), content
type and encoding, and body; `spans()` decodes an OTLP protobuf body with opentelemetry-proto.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import LoopbackHandler, serving

PROJECTS_PATH = "/api/public/projects"
OTEL_TRACES_PATH = "/api/public/otel/v1/traces"
HEALTH_PATH = "/api/public/health"


@dataclass(frozen=True)
class Span:
    name: str
    trace_id: str
    span_id: str
    attributes: Mapping[str, Any]
    resource_attributes: Mapping[str, Any]
    scope: str

    def strings(self) -> Iterator[str]:
        """Every string this span carries in its name and attribute values (nested ones flattened)."""
        yield self.name
        for value in self.attributes.values():
            yield from _flatten_strings(value)


def _flatten_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten_strings(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _flatten_strings(item)


def _any_value(value: Any) -> Any:
    """An OTLP AnyValue as plain Python."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _any_value(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind)


def decode_otlp_traces(body: bytes) -> list[Span]:
    """The spans of an OTLP/HTTP protobuf ExportTraceServiceRequest."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {item.key: _any_value(item.value) for item in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(Span(
                    name=span.name,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    attributes={item.key: _any_value(item.value) for item in span.attributes},
                    resource_attributes=resource,
                    scope=scope_spans.scope.name,
                ))
    return spans


@dataclass(frozen=True)
class LangfuseRequest:
    at: float  # time.monotonic() when it arrived
    method: str
    path: str  # without the query string
    public_key: str | None  # from Basic auth; None without it
    secret_key: str | None
    content_type: str | None
    content_encoding: str | None
    body: bytes  # as received (possibly compressed)
    status: int  # what the fake answered

    @property
    def body_size(self) -> int:
        return len(self.body)

    @property
    def is_otel_traces(self) -> bool:
        return self.method == "POST" and self.path == OTEL_TRACES_PATH

    def payload(self) -> bytes:
        """The body with any Content-Encoding undone."""
        if self.content_encoding == "gzip":
            return gzip.decompress(self.body)
        if self.content_encoding == "deflate":
            return zlib.decompress(self.body)
        return self.body

    def spans(self) -> list[Span]:
        if not self.is_otel_traces:
            return []
        if (self.content_type or "").split(";")[0].strip() == "application/json":
            raise ValueError("OTLP/JSON bodies are not decoded by this fake; the SDK sends protobuf")
        return decode_otlp_traces(self.payload())


def _basic_auth(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.startswith("Basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[len("Basic "):]).decode()
    except ValueError:
        return None, None
    public, _, secret = decoded.partition(":")
    return public, secret


@dataclass
class FakeLangfuse:
    # public key -> (secret key, project id); empty: every Basic-auth pair is accepted.
    projects: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    url: str = ""
    requests: list[LangfuseRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[LangfuseRequest]:
        with self._lock:
            return list(self.requests)

    def otel_requests(self) -> list[LangfuseRequest]:
        return [request for request in self.snapshot() if request.is_otel_traces]

    def wait_for(self, predicate: Callable[[list[LangfuseRequest]], bool], timeout: float = 20,
                 interval: float = 0.1) -> list[LangfuseRequest]:
        """Poll the recorded requests until `predicate` holds; the last snapshot either way."""
        deadline = time.monotonic() + timeout
        while True:
            requests = self.snapshot()
            if predicate(requests) or time.monotonic() >= deadline:
                return requests
            time.sleep(interval)

    def authorize(self, public_key: str | None, secret_key: str | None) -> str | None:
        """The project id of a key pair, or None when the pair is not accepted."""
        if public_key is None:
            return None
        if not self.projects:
            return f"project-{public_key}"
        expected = self.projects.get(public_key)
        if expected is None or expected[0] != secret_key:
            return None
        return expected[1]

    def handle(self, method: str, path: str, public_key: str | None, secret_key: str | None) -> tuple[int, bytes, str]:
        if method == "GET" and path == HEALTH_PATH:
            return 200, json.dumps({"status": "OK", "version": "fake"}).encode(), "application/json"
        if (method, path) not in (("GET", PROJECTS_PATH), ("POST", OTEL_TRACES_PATH)):
            return 404, json.dumps({"message": f"fake Langfuse: no route for {method} {path}"}).encode(), "application/json"
        project_id = self.authorize(public_key, secret_key)
        if project_id is None:
            return 401, json.dumps({"message": "Invalid credentials"}).encode(), "application/json"
        if method == "GET":
            project = {
                "id": project_id, "name": project_id, "metadata": {},
                "organization": {"id": "fake-org", "name": "fake-org"},
            }
            return 200, json.dumps({"data": [project]}).encode(), "application/json"
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        return 200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"


class _Handler(LoopbackHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's HTTP clients expect

    def _serve(self) -> None:
        fake: FakeLangfuse = self.fake
        body = self.read_body()
        path = urlsplit(self.path).path
        public_key, secret_key = _basic_auth(self.headers.get("Authorization"))
        status, data, content_type = fake.handle(self.command, path, public_key, secret_key)
        with fake._lock:
            fake.requests.append(LangfuseRequest(
                at=time.monotonic(), method=self.command, path=path, public_key=public_key,
                secret_key=secret_key, content_type=self.headers.get("Content-Type"),
                content_encoding=self.headers.get("Content-Encoding"), body=body, status=status,
            ))
        self.send_bytes(status, data, content_type)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 (http.server's naming)


def running_fake_langfuse(
    projects: Mapping[str, tuple[str, str]] | None = None,
) -> AbstractContextManager[FakeLangfuse]:
    """Serve a fake Langfuse on a free 127.0.0.1 port until the block ends.

    `projects` maps each accepted public key to (secret key, project id); without it any pair passes.
    """
    return serving(FakeLangfuse(projects=dict(projects or {})), _Handler)
