"""Every container image the platform runs, recorded in one place, each pinned by digest.

A reference is `name:tag@sha256:<digest>`: the digest is what runs (`name@sha256:...`), the tag
says which release it is for people. A stack may override any of them (`litellm.image`,
`langfuse.webImage`, ...); an override that carries only a tag is resolved to its digest at deploy
time (pulumi-docker registry lookup), so no running service ever follows a moving tag.

Where each digest comes from: this machine cannot reach a registry, so none was pulled here. Each
one is the multi-arch index digest that several unrelated public repositories pinned for that
tag after pulling it (listed per image below). A digest names content in the official
repository: a wrong one fails the pull or names another build of the same repository, never
someone else's image. `make pin-images` (scripts/pin_images.py), run where a
registry is reachable, re-reads every digest from the registry, checks the index serves
linux/arm64, and rewrites this table; and every deploy warns when a tag now serves another digest
than the one pinned here (a rebuilt or patched release worth reviewing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_IMAGES: dict[str, str] = {
    # LiteLLM 1.104 is the first line whose `langfuse` callback speaks Langfuse SDK v4 (OTEL), and
    # clears CVE-2026-42208 (< 1.83.7). The PyPI pin in requirements-dev.txt is the same release, so
    # the integration tests exercise what production runs. Digest pinned by four public repos,
    # two of which state they pulled it ("base index digest").
    "litellm": "ghcr.io/berriai/litellm-database:v1.104.0"
               "@sha256:fbe28229d2d02181c0a7d9df9599de614b491f3d897d2d7da18404f088310218",
    # Langfuse v4; web and worker of one release. Digests resolved from Docker Hub by several
    # public repos (2026-10-05), one recording `docker inspect` RepoDigests after the pull.
    "langfuse-web": "docker.io/langfuse/langfuse:4.50.0"
                    "@sha256:3d2ae888a0e6edb41fdba6e7d5baca5e4baede3a870dac7970dadd9d925b018e",
    "langfuse-worker": "docker.io/langfuse/langfuse-worker:4.50.0"
                       "@sha256:52f7fd41ded2f1a6acab13ff7cb1832d36dfe2cbf44adea402b7a09cfa4ce800",
    # ClickHouse 25.12, Langfuse v4's floor and the line its own compose file runs (Langfuse applies
    # its version-specific workarounds itself from the live server's version). Pinned by three repos.
    "clickhouse": "docker.io/clickhouse/clickhouse-server:25.12"
                  "@sha256:8a790dd3468db22b1d4e7b18a176f378ff5ff6053b9c48dd4ea1fa71a24c5ba6",
    # Valkey: BSD-licensed, Redis 7.2-compatible, the engine ElastiCache runs in ECS mode.
    "redis": "docker.io/valkey/valkey:8.1"
             "@sha256:495e4fecdc98ee48a20b207726caa5ab6451e0fac3642a9be10d9e70b3068df6",
    # psql for the one-off job that creates the application databases and users.
    "postgres-client": "docker.io/library/postgres:17-alpine"
                       "@sha256:742f40ea20b9ff2ff31db5458d127452988a2164df9e17441e191f3b72252193",
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
        """Leading numeric part of the tag (`v1.104.0` -> (1, 104, 0)), or None."""
        match = re.match(r"^v?(\d+(?:\.\d+)*)", self.tag)
        return tuple(int(part) for part in match.group(1).split(".")) if match else None


def parse_image(reference: str) -> ImageReference | None:
    """Parse `name:tag[@sha256:...]`; None when the reference is malformed or has no tag."""
    match = _REFERENCE.match(reference)
    if not match:
        return None
    return ImageReference(match.group("name"), match.group("tag"), match.group("digest"))
