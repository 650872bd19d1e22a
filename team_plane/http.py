"""JSON over urllib to a service's admin API: transient failures are retried, every HTTP status
comes back as a response for the product's client to judge. Standard library only: the team-plane
job runs it inside the LiteLLM image (python3 + boto3).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_REQUEST_TIMEOUT_SECONDS = 30.0
# A load balancer answers these while the service behind it (re)starts.
LOAD_BALANCER_STATUSES = frozenset({502, 503, 504})
# Connection refused, a name that does not resolve yet, a timeout: worth another try.
TRANSIENT_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError)
MAX_BODY_IN_ERROR = 2000


class Deadline:
    """When a step must be done: every request of the step, and every retry, share it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()


@dataclass(frozen=True)
class AdminResponse:
    status: int
    body: Any  # parsed JSON, or the raw text when the body is not JSON
    location: str | None = None  # of a redirect

    def body_for_error(self, redact: Callable[[str], str]) -> str:
        """The body as text for an error message: redacted first, so the cut cannot split a secret."""
        text = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return redact(text)[:MAX_BODY_IN_ERROR]


def _parse(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect (http -> https, another host) is reported, never followed: urllib would turn a
    POST into a GET and resend the credentials wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECT_OPENER = urllib.request.build_opener(_NoRedirect())

# (method, path, reason, attempts) -> the product's "cannot reach" error, raised after the last attempt.
Unreachable = Callable[[str, str, str, int], Exception]


class JsonApiClient:
    def __init__(self, base_url: str, headers: Mapping[str, str], *, timeout_seconds: float,
                 retry_delays: Sequence[float], sleep: Callable[[float], None], unreachable: Unreachable,
                 transient_statuses: frozenset[int] = LOAD_BALANCER_STATUSES, follow_redirects: bool = True,
                 deadline: Deadline | None = None):
        self._base_url = base_url  # without a trailing slash: paths start with one
        self._headers = {**headers, "Content-Type": "application/json"}
        self._timeout_seconds = timeout_seconds
        self._retry_delays = tuple(retry_delays)
        self._sleep = sleep
        self._unreachable = unreachable
        self._transient_statuses = transient_statuses
        self._open = urllib.request.urlopen if follow_redirects else _NO_REDIRECT_OPENER.open
        self._deadline = deadline

    def send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> AdminResponse:
        """The first answer that is not transient; the last attempt's answer whatever it is. Attempts
        stop after the last retry delay, or earlier at the deadline: none starts after it, none waits
        past it."""
        response, reason, attempts = None, "the step's deadline had passed", 0
        for delay in (*self._retry_delays, None):
            timeout = self._timeout_seconds if self._deadline is None else min(self._timeout_seconds, self._deadline.remaining())
            if timeout <= 0:
                break
            attempts += 1
            try:
                response = self._send_once(method, path, body, timeout)
            except TRANSIENT_ERRORS as error:
                response, reason = None, str(getattr(error, "reason", error))
            else:
                if response.status not in self._transient_statuses:
                    return response
            if delay is None or (self._deadline is not None and self._deadline.remaining() <= delay):
                break
            self._sleep(delay)
        if response is not None:
            return response
        raise self._unreachable(method, path, reason, attempts)

    def _send_once(self, method: str, path: str, body: Mapping[str, Any] | None, timeout: float) -> AdminResponse:
        request = urllib.request.Request(
            self._base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers=self._headers,
        )
        try:
            with self._open(request, timeout=timeout) as response:
                return AdminResponse(response.status, _parse(response.read()))
        except urllib.error.HTTPError as error:
            with error:
                return AdminResponse(error.code, _parse(error.read()), error.headers.get("Location"))
