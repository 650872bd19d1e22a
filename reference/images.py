"""Every container image the platform runs, recorded in one place, each pinned by digest.

A reference is `name:tag@sha256:<digest>`: the digest is what runs (`name@sha256:...`), the tag
says which release it is for people. A stack may override any of them (`litellm.image`,
`langfuse.webImage`, ...) with a reference that carries its digest too: the program resolves
nothing at deploy time (no registry, no Docker daemon: preview and up need AWS credentials only).

Where each digest comes from: this machine cannot reach a registry, so none was pulled here. Each
one is the multi-arch index digest that several unrelated public repositories pinned for that
tag after pulling it (listed per image below). A digest names content in the official
repository: a wrong one fails the pull or names another build of the same repository, never
someone else's image. `make pin-images` (scripts/pin_images.py), run where a registry is
reachable, re-reads every digest from the registry, checks the index serves linux/arm64, and
rewrites this table; `make check-images` only reports drift (a rebuilt or patched release worth
reviewing), and .github/workflows/image-drift.yml runs it every week.

Registries: Fargate caches nothing and the hosts pull through the NAT address, so every pull counts
against the registry's per-address anonymous limit. REGISTRIES below says which registries images may
come from; Docker Hub (a few anonymous pulls per hour per address) only for the repositories in
DOCKER_HUB_ONLY, each with the reason no copy with the same digest is known elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_IMAGES: dict[str, str] = {
    # LiteLLM 1.104 is the first line whose `langfuse` callback speaks Langfuse SDK v4 (OTEL), and
    # clears CVE-2026-42208 (< 1.83.7). The PyPI pin in requirements-dev.txt is the same release, so
    # the integration tests exercise what production runs. Digest pinned by four public repos,
    # two of which state they pulled it ("base index digest").
    "litellm": "ghcr.io/berriai/litellm-database:v1.104.0@sha256:fbe28229d2d02181c0a7d9df9599de614b491f3d897d2d7da18404f088310218",
    # Langfuse v4; web and worker of one release. Digests resolved from Docker Hub by several
    # public repos (2026-10-05), one recording `docker inspect` RepoDigests after the pull.
    "langfuse-web": "docker.io/langfuse/langfuse:4.50.0@sha256:3d2ae888a0e6edb41fdba6e7d5baca5e4baede3a870dac7970dadd9d925b018e",
    "langfuse-worker": "docker.io/langfuse/langfuse-worker:4.50.0@sha256:52f7fd41ded2f1a6acab13ff7cb1832d36dfe2cbf44adea402b7a09cfa4ce800",
    # ClickHouse 25.12, Langfuse v4's floor and the line its own compose file runs (Langfuse applies
    # its version-specific workarounds itself from the live server's version). Pinned by three repos.
    "clickhouse": "docker.io/clickhouse/clickhouse-server:25.12@sha256:8a790dd3468db22b1d4e7b18a176f378ff5ff6053b9c48dd4ea1fa71a24c5ba6",
    # Valkey: BSD-licensed, Redis 7.2-compatible, the engine ElastiCache runs in ECS mode.
    "redis": "docker.io/valkey/valkey:8.1@sha256:495e4fecdc98ee48a20b207726caa5ab6451e0fac3642a9be10d9e70b3068df6",
    # psql for the one-off job that creates the application databases and users: the Docker Official
    # Image as Docker publishes it on ECR Public (docker.com/blog/news-from-aws-reinvent-docker-official-
    # images-on-amazon-ecr-public). Same index bytes as docker.io/library/postgres:17-alpine (17.11):
    # one public repo compared both registries' index bodies on 2026-10-09 and pins this ref; many
    # others pin the same digest from Docker Hub.
    "postgres-client": "public.ecr.aws/docker/library/postgres:17-alpine@sha256:b0f9560a2de083e2cc7382e75f808c7381a32852a7ec49117deedb300e552b24",
    # The local platform's PostgreSQL server (compute: local): the same Docker Official Image, Debian's
    # build, whose openssl makes the server's certificate at its first start (services/local.py; the
    # Alpine build has no openssl program). 17-bookworm is 17.11 here; this is its multi-arch index:
    # pinned for postgres:17-bookworm / 17.11-bookworm by at least six unrelated public repositories,
    # one recording it as the RepoDigest of a pulled postgres:17-bookworm (17.11), another listing it
    # as the manifest list whose linux/amd64 manifest is sha256:91eb910c...; that amd64 manifest is also
    # pinned from public.ecr.aws/docker/library/postgres:17.11-bookworm, ECR Public serving the same
    # bytes as Docker Hub. (Docker rebuilds the tag now and then, other digests of it are pinned
    # elsewhere; `make pin-images` moves the pin.)
    "postgres-server": "public.ecr.aws/docker/library/postgres:17-bookworm@sha256:639ab7ceb90e13123085b741fb31ef493fba25463002f6da665352e7b534b652",
    # The local platform's S3-compatible store (compute: local): SeaweedFS 4.44 (`weed mini`), the newest
    # release read here. Its release workflow builds the multi-arch index on GHCR and `crane copy`s it to
    # Docker Hub, which keeps the digest (seaweedfs .github/workflows/container_release_unified.yml at
    # 4.44, lines 299-352); at least six unrelated public repositories pin this index digest for
    # chrislusf/seaweedfs:4.44, one noting it is Docker Hub's multi-platform index. Not MinIO: its
    # community edition became source-only in October 2025 (minio/minio#21647) and its last image
    # predates a security release (GHSA-jjjj-jwhf-8rgr).
    "object-store": "ghcr.io/chrislusf/seaweedfs:4.44@sha256:e67e8c385484120b78bff47ba5f4debbca47fbd27ed1a39f016f47e8baea615b",
}

# Registries images may come from: host -> why it is fit to pull from on every deploy.
REGISTRIES: dict[str, str] = {
    "ghcr.io": "GitHub Container Registry: public images pull anonymously without Docker Hub's per-address limit",
    "public.ecr.aws": "Amazon ECR Public: anonymous pulls limited to 1 per second per address and 500 GB a month",
    "docker.io": "Docker Hub: only the repositories in DOCKER_HUB_ONLY (anonymous pulls are limited per address)",
}

# Docker Hub repositories still pulled from Docker Hub, each with why no registry above serves the same
# digest. An ECR pull-through cache does not help a digest-pinned pull: ECR does not populate the
# cache on a first pull by digest, even with the tag beside it (aws/containers-roadmap#2837, open).
DOCKER_HUB_ONLY: dict[str, str] = {
    # langfuse/langfuse pipeline.yml builds the GHCR and Docker Hub images in separate build-push
    # runs and joins each with its own `imagetools create`: the GHCR index has another digest, and no
    # public repository pins the GHCR 4.50.0 one.
    "langfuse/langfuse": "GHCR copy is a separate build (other digest, not known here)",
    "langfuse/langfuse-worker": "GHCR copy is a separate build (other digest, not known here)",
    # ClickHouse publishes clickhouse/clickhouse-server on Docker Hub only; the Docker Official Image
    # `clickhouse` (on ECR Public) is another build, and no public repository pins its 25.12 digest.
    "clickhouse/clickhouse-server": "published on Docker Hub only; the official-image build differs",
    # public.ecr.aws/valkey/valkey exists, but nothing shows it serves this 8.1 index digest.
    "valkey/valkey": "no copy with the same 8.1 digest established",
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
        """`name@sha256:...` when the digest is known, else None."""
        return f"{self.name}@{self.digest}" if self.digest else None

    @property
    def registry(self) -> str:
        """The registry host, with Docker's implicit default: `postgres` lives on docker.io."""
        return self._split()[0]

    @property
    def repository(self) -> str:
        """The repository path on its registry, with Docker Hub's implicit `library/`."""
        return self._split()[1]

    def _split(self) -> tuple[str, str]:
        head, _, rest = self.name.partition("/")
        if rest and ("." in head or ":" in head or head == "localhost"):
            registry, path = head, rest
        else:
            registry, path = "docker.io", self.name
        return registry, f"library/{path}" if registry == "docker.io" and "/" not in path else path

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
    match = _REFERENCE.fullmatch(reference)
    if not match:
        return None
    return ImageReference(match.group("name"), match.group("tag"), match.group("digest"))


def registry_problem(image: ImageReference) -> str | None:
    """Why `image` may not be pulled by the platform (REGISTRIES, DOCKER_HUB_ONLY), or None."""
    if image.registry not in REGISTRIES:
        return f"must come from one of the registries {', '.join(REGISTRIES)} (reference/images.py REGISTRIES)"
    if image.registry == "docker.io" and image.repository not in DOCKER_HUB_ONLY:
        return (f"is on Docker Hub, whose anonymous pulls are limited per address: use its copy on "
                f"{' or '.join(r for r in REGISTRIES if r != 'docker.io')} (same digest)")
    return None


def pinned_images(references: Iterable[str]) -> dict[str, str]:
    """Image reference -> `name@sha256:<digest>`, what runs; every reference carries its digest
    (config/settings.py refuses a stack override without one)."""
    pinned = {}
    for reference in sorted(set(references)):
        image = parse_image(reference)
        if image is None or image.pinned is None:
            raise ValueError(f"image {reference!r} is not pinned by digest")
        pinned[reference] = image.pinned
    return pinned
