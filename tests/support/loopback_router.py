"""One address in front of two loopback servers, by path prefix: what lets a client that talks to
one LiteLLM address (the smoke step: admin routes and calls alike) reach the real proxy for calls
and the fake admin API for the routes that need LiteLLM's database, which cannot start here."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.loopback import LoopbackHandler, serving

FORWARDED_HEADERS = ("Authorization", "Content-Type")


@dataclass
class Router:
    routes: Sequence[tuple[str, str]]  # (path prefix, backend URL), first match wins
    default: str  # backend URL for every other path
    url: str = ""

    def backend(self, path: str) -> str:
        return next((url for prefix, url in self.routes if path.startswith(prefix)), self.default)


class _Forward(LoopbackHandler):
    def _forward(self) -> None:
        router: Router = self.fake
        body = self.read_body() if self.command in ("POST", "PUT", "PATCH") else None
        headers = {name: self.headers[name] for name in FORWARDED_HEADERS if self.headers.get(name)}
        request = urllib.request.Request(router.backend(self.path) + self.path, data=body, method=self.command,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, data, content_type = response.status, response.read(), response.headers.get("Content-Type")
        except urllib.error.HTTPError as error:
            with error:
                status, data, content_type = error.code, error.read(), error.headers.get("Content-Type")
        self.send_bytes(status, data, content_type or "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815 (http.server's naming)


@contextmanager
def routing(routes: Sequence[tuple[str, str]], default: str) -> Iterator[Router]:
    with serving(Router(routes, default), _Forward) as router:
        yield router
