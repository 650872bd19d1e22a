"""The base of the dynamic providers `components.litellm_team` and `components.langfuse_project`:
their clients speak JSON over urllib through `team_plane.http` (shared with the team-plane job).

Those providers are pickled by reference into stack state together with the attributes
`AdminApiProvider` sets: keep their names, and `time.sleep` as the default. The clients are built
per operation and never stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from pulumi.dynamic import ResourceProvider

from team_plane.http import (  # noqa: F401 (re-exported for the providers)
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    LOAD_BALANCER_STATUSES,
    AdminResponse,
    JsonApiClient,
)


class AdminApiProvider(ResourceProvider):
    """Everything injected here is pickled with the provider (by value for plain data, by
    reference for functions), so no client or secret is ever stored in it."""

    default_retry_delays: tuple[float, ...] = ()

    def __init__(
        self,
        retry_delays: Sequence[float] | None = None,  # None: the product's default_retry_delays
        request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__()
        self.retry_delays = tuple(self.default_retry_delays if retry_delays is None else retry_delays)
        self.request_timeout_seconds = request_timeout_seconds
        self.sleep = sleep

    def client_options(self) -> dict[str, Any]:
        return {"timeout_seconds": self.request_timeout_seconds, "retry_delays": self.retry_delays,
                "sleep": self.sleep}
