"""Clients of the servers behind the load balancer, as its connection pool and the SDKs are: each on
its own keep-alive connection, the next call on the same connection as soon as the last answer is
in. Used by the serving tests and `make bench`."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from services.serving import ServingTimeouts

CALL = {"model": "sonnet", "messages": [{"role": "user", "content": "load"}]}
# The shipped timeouts (services/serving.py) scaled down to seconds: the mechanisms are under test.
SCALED = ServingTimeouts(request=4, margin=2, stop=8, stop_margin=2)  # idle 6, keep-alive 8, graceful stop 6


def closed_by_server(connection: socket.socket, within: float = 0) -> bool:
    """Whether the server closes `connection` within `within` seconds from now (its FIN waits to be
    read; 0: has closed it already), without sending on it."""
    deadline = time.monotonic() + within
    while True:
        readable, _, _ = select.select([connection], [], [], max(deadline - time.monotonic(), 0))
        if readable:
            return connection.recv(1, socket.MSG_PEEK) == b""
        if time.monotonic() >= deadline:
            return False


@dataclass
class LoadResult:
    statuses: Counter = field(default_factory=Counter)  # HTTP status -> answers
    errors: Counter = field(default_factory=Counter)  # exception type -> calls that got no answer
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


def keep_alive_load(url: str, token: str, *, concurrency: int, calls: int,
                    keep_going: Callable[[], bool] = lambda: True) -> LoadResult:
    """POST /v1/chat/completions `calls` times from `concurrency` threads, or fewer when
    `keep_going` turns false. A connection that fails or is told to close is replaced by a new
    one, and no call is retried: every failure is counted."""
    parts = urlsplit(url)
    body = json.dumps(CALL)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    result, lock, sent = LoadResult(), threading.Lock(), [0]

    def client() -> None:
        connection = None
        while True:
            with lock:
                if sent[0] >= calls or not keep_going():
                    break
                sent[0] += 1
            connection = connection or http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            try:
                connection.request("POST", "/v1/chat/completions", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                with lock:
                    result.statuses[response.status] += 1
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    result.errors[type(error).__name__] += 1
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result
