"""The fake Langfuse (tests/support/fake_langfuse.py) with the public read API a smoke test polls,
as Langfuse v4.16.0 serves it in its default write mode (`events_only`, web/src/env.mjs):

- GET /api/public/v2/observations?traceId=...: a project key reads its own project only
  (`auth.scope.projectId`); 200 with `{"data": [...], "meta": {}}`, each observation's core fields
  (id, traceId, startTime, endTime, projectId, parentObservationId, type), `data: []` while none is
  ingested (web/src/pages/api/public/v2/observations/index.ts). What the fake received as OTLP spans
  with a project's pair becomes readable `visible_after_seconds` later (Langfuse ingests through
  S3, a queue, the worker and ClickHouse); a project in `dropped_projects` never shows its spans (a
  chain broken after ingestion);
- GET /api/public/traces/{id}: 404 before authentication, as every `/api/public/traces` route in
  events_only mode (createAuthedProjectAPIRoute.ts `rejectInEventsOnlyMode`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_langfuse import FakeLangfuse, LangfuseRequest, _basic_auth, _Handler
from tests.support.loopback import serving

OBSERVATIONS_PATH = "/api/public/v2/observations"
TRACES_PREFIX = "/api/public/traces"
EVENTS_ONLY = ("This endpoint is not available on deployments running in Langfuse v4 events_only mode. Learn more "
               "about Langfuse v4 at: https://langfuse.com/docs/v4")


@dataclass
class ReadableLangfuse(FakeLangfuse):
    visible_after_seconds: float = 0.0
    dropped_projects: set[str] = field(default_factory=set)

    def observations(self, project_id: str, trace_id: str | None) -> list[dict]:
        now = time.monotonic()
        found = []
        for export in self.otel_requests():
            if export.status != 200 or now - export.at < self.visible_after_seconds:
                continue
            if self.authorize(export.public_key, export.secret_key) != project_id or project_id in self.dropped_projects:
                continue
            for span in export.spans():
                if trace_id is None or span.trace_id == trace_id:
                    found.append({"id": span.span_id, "traceId": span.trace_id, "projectId": project_id,
                                  "startTime": datetime.now(UTC).isoformat(), "endTime": None,
                                  "parentObservationId": None, "type": "GENERATION"})
        return found

    def read(self, path: str, query: Mapping[str, list[str]], public_key: str | None,
             secret_key: str | None) -> tuple[int, dict] | None:
        """The read routes' answer; None for any other route."""
        if path.startswith(TRACES_PREFIX):
            return 404, {"message": EVENTS_ONLY}
        if path != OBSERVATIONS_PATH:
            return None
        project_id = self.authorize(public_key, secret_key)
        if project_id is None:
            return 401, {"message": "Invalid credentials"}
        limit = int(query.get("limit", ["50"])[0])
        return 200, {"data": self.observations(project_id, query.get("traceId", [None])[0])[:limit], "meta": {}}


class _ReadHandler(_Handler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        fake: ReadableLangfuse = self.fake
        parts = urlsplit(self.path)
        public_key, secret_key = _basic_auth(self.headers.get("Authorization"))
        answer = fake.read(parts.path, parse_qs(parts.query), public_key, secret_key)
        if answer is None:
            return super().do_GET()
        status, body = answer
        with fake._lock:
            fake.requests.append(LangfuseRequest(
                at=time.monotonic(), method="GET", path=parts.path, public_key=public_key, secret_key=secret_key,
                content_type=None, content_encoding=None, body=b"", status=status))
        self.send_bytes(status, json.dumps(body).encode(), "application/json")


def running_readable_langfuse(projects: Mapping[str, tuple[str, str]], visible_after_seconds: float = 0.0,
                              dropped_projects: set[str] = frozenset()) -> AbstractContextManager[ReadableLangfuse]:
    """`projects`: public key -> (secret key, project id)."""
    return serving(ReadableLangfuse(projects=dict(projects), visible_after_seconds=visible_after_seconds,
                                    dropped_projects=set(dropped_projects)), _ReadHandler)
