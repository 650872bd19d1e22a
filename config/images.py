"""Every container image the platform runs, recorded in one place.

A stack may override any of them (`litellm.image`, `langfuse.webImage`, ...). A reference is
`name:tag` or `name:tag@sha256:<digest>`. When it carries only a tag, the program resolves the
digest at deploy time (pulumi-docker registry lookup) and runs `name@sha256:<digest>`, so a
running service never follows a moving tag. Digests are never written here unverified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# LiteLLM >= 1.104 is the first line whose `langfuse` callback speaks Langfuse SDK v4 (OTEL);
# >= 1.83.10 is also the floor for CVE-2026-42208. The PyPI pin in requirements-dev.txt is the
# same version, so the integration tests exercise what production runs.
LITELLM_VERSION = "1.105.3"

DEFAULT_IMAGES: dict[str, str] = {
    "litellm": f"ghcr.io/berriai/litellm-database:v{LITELLM_VERSION}",
    "langfuse-web": "docker.io/langfuse/langfuse:4.52.0",
    "langfuse-worker": "docker.io/langfuse/langfuse-worker:4.52.0",
    # 26.8 is an LTS line, above Langfuse v4's 25.12 floor and its 26.6 lazy-materialization bound.
    "clickhouse": "docker.io/clickhouse/clickhouse-server:26.8",
    # Valkey: BSD-licensed Redis 7.2-compatible server, the same engine ElastiCache runs for ECS.
    "redis": "docker.io/valkey/valkey:8.1",
    # psql for the one-off job that creates the application databases and users.
    "postgres-client": "docker.io/library/postgres:17-alpine",
}

_REFERENCE = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class ImageReference:
    name: str
    tag: str
    digest: str | None

    @property
    def pinned(self) -> str | None:
        """`name@sha256:...` when the digest is known, else None (resolve at deploy time)."""
        return f"{self.name}@{self.digest}" if self.digest else None

    @property
    def tagged(self) -> str:
        return f"{self.name}:{self.tag}"

    @property
    def version(self) -> tuple[int, ...] | None:
        """Leading numeric part of the tag (`v1.105.3` -> (1, 105, 3)), or None."""
        match = re.match(r"^v?(\d+(?:\.\d+)*)", self.tag)
        return tuple(int(part) for part in match.group(1).split(".")) if match else None


def parse_image(reference: str) -> ImageReference | None:
    """Parse `name:tag[@sha256:...]`; None when the reference is malformed or has no tag."""
    match = _REFERENCE.match(reference)
    if not match:
        return None
    return ImageReference(match.group("name"), match.group("tag"), match.group("digest"))
