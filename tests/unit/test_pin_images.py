"""`make pin-images` against a loopback registry that speaks the distribution API as Docker Hub, GHCR
and ECR Public do: anonymous bearer tokens, manifest indexes, Docker-Content-Digest (or, like ECR
Public on GET, none: the digest is then the sha256 of the manifest bytes)."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field

import pytest

from reference.images import DEFAULT_IMAGES, REGISTRIES, parse_image
from scripts import pin_images
from scripts.pin_images import INDEX_TYPES, Location, locate
from tests.support.loopback import LoopbackHandler, serving
from tests.support.stacks import ROOT

TOKEN = "anonymous-pull-token"


@dataclass
class FakeRegistry:
    # (repository, tag) -> (digest, platforms); filled per test
    tags: dict[tuple[str, str], tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    single_platform: set[tuple[str, str]] = field(default_factory=set)
    digest_header: bool = True
    url: str = ""


class _Handler(LoopbackHandler):
    def do_GET(self) -> None:
        registry: FakeRegistry = self.fake
        if self.path.startswith("/token?"):
            return self.reply(200, {"token": TOKEN})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            challenge = f'Bearer realm="{registry.url}/token",service="fake",scope="repository:x:pull"'
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge})
        repository, _, tag = self.path.removeprefix("/v2/").partition("/manifests/")
        if (repository, tag) not in registry.tags:
            return self.reply(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        digest, platforms = registry.tags[(repository, tag)]
        if (repository, tag) in registry.single_platform:
            document = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}
        else:
            document = {"mediaType": INDEX_TYPES[0], "manifests": [
                {"digest": "sha256:" + "0" * 64, "platform": {"os": os_, "architecture": arch}} for os_, arch in platforms
            ]}
        headers = {"Docker-Content-Digest": digest} if registry.digest_header else {}
        self.send_bytes(200, json.dumps(document).encode(), document["mediaType"], headers)


def serving_pins() -> FakeRegistry:
    """A registry whose every tag still serves exactly the pinned digest, for linux/amd64 and arm64."""
    registry = FakeRegistry()
    for reference in DEFAULT_IMAGES.values():
        location = locate(reference)
        registry.tags[(location.repository, location.tag)] = (parse_image(reference).digest, [("linux", "amd64"), ("linux", "arm64")])
    return registry


def run(registry: FakeRegistry, images_file, *extra: str) -> int:
    """pin_images with every registry of the policy (reference/images.py REGISTRIES) served by `registry`."""
    with serving(registry, _Handler):
        overrides = [arg for host in REGISTRIES for arg in ("--registry", f"{host}={registry.url}")]
        return pin_images.main(["--file", str(images_file), *overrides, *extra])


@pytest.fixture
def images_file(tmp_path):
    copy = tmp_path / "images.py"
    shutil.copy(ROOT / "reference" / "images.py", copy)
    return copy


@pytest.mark.parametrize("reference, expected", [
    ("docker.io/library/postgres:17-alpine", Location("docker.io", "library/postgres", "17-alpine")),
    ("postgres:17-alpine", Location("docker.io", "library/postgres", "17-alpine")),
    ("docker.io/valkey/valkey:8.1@sha256:" + "a" * 64, Location("docker.io", "valkey/valkey", "8.1")),
    ("ghcr.io/berriai/litellm-database:v1.104.0", Location("ghcr.io", "berriai/litellm-database", "v1.104.0")),
    ("public.ecr.aws/docker/library/postgres:17-alpine",
     Location("public.ecr.aws", "docker/library/postgres", "17-alpine")),
    ("localhost:5000/team/app:1", Location("localhost:5000", "team/app", "1")),
])
def test_locate(reference, expected):
    assert locate(reference) == expected


def test_every_default_image_is_pinned_by_digest():
    for key, reference in DEFAULT_IMAGES.items():
        assert parse_image(reference).digest, key


def test_current_pins_are_left_alone(images_file, capsys):
    before = images_file.read_text()
    assert run(serving_pins(), images_file) == 0
    assert images_file.read_text() == before
    assert capsys.readouterr().out.count("is current") == len(DEFAULT_IMAGES)


def test_a_moved_tag_moves_exactly_its_pin(images_file, capsys):
    registry = serving_pins()
    moved = "sha256:" + hashlib.sha256(b"rebuilt").hexdigest()
    web = locate(DEFAULT_IMAGES["langfuse-web"])
    registry.tags[(web.repository, web.tag)] = (moved, [("linux", "arm64")])
    before = images_file.read_text()

    assert run(registry, images_file, "--check") == 1  # reports, writes nothing
    assert images_file.read_text() == before

    assert run(registry, images_file) == 0
    old = parse_image(DEFAULT_IMAGES["langfuse-web"]).digest
    assert images_file.read_text() == before.replace(old, moved)
    assert f"langfuse-web: docker.io/langfuse/langfuse:4.50.0 moved {old} -> {moved}" in capsys.readouterr().out


@pytest.mark.parametrize("problem, message", [
    ("no-arm64", "the index offers no linux/arm64 image (platforms: [('linux', 'amd64')])"),
    ("single", "a single-platform manifest, not a multi-arch index"),
    ("missing", "HTTP 404"),
])
def test_what_cannot_run_on_graviton_is_refused(images_file, capsys, problem, message):
    registry = serving_pins()
    redis = locate(DEFAULT_IMAGES["redis"])
    if problem == "no-arm64":
        registry.tags[(redis.repository, redis.tag)] = ("sha256:" + "1" * 64, [("linux", "amd64")])
    elif problem == "single":
        registry.single_platform.add((redis.repository, redis.tag))
    else:
        del registry.tags[(redis.repository, redis.tag)]
    before = images_file.read_text()
    assert run(registry, images_file) == 2
    assert images_file.read_text() == before
    assert f"error: redis: docker.io/valkey/valkey:8.1: {message}" in capsys.readouterr().err


def test_check_annotates_drift_for_github_actions(images_file, capsys):
    registry = serving_pins()
    worker = locate(DEFAULT_IMAGES["langfuse-worker"])
    registry.tags[(worker.repository, worker.tag)] = ("sha256:" + "2" * 64, [("linux", "arm64")])
    assert run(registry, images_file, "--check", "--annotate") == 1
    out = capsys.readouterr().out
    assert "::warning file=reference/images.py,title=Image drift::langfuse-worker: " in out
    assert out.count("::warning") == 1


@pytest.mark.parametrize("digest_header", [True, False])
def test_resolve_prints_the_pinned_reference_an_override_needs(images_file, capsys, digest_header):
    registry = serving_pins()
    registry.digest_header = digest_header  # ECR Public sends none on GET
    reference = parse_image(DEFAULT_IMAGES["postgres-client"]).tagged
    before = images_file.read_text()
    assert run(registry, images_file, "--resolve", reference) == 0
    printed = capsys.readouterr().out.strip()
    assert images_file.read_text() == before
    pinned = parse_image(DEFAULT_IMAGES["postgres-client"]).digest
    if digest_header:
        assert printed == f"{reference}@{pinned}"
    else:  # the digest of the bytes served, computed as the registry would
        assert printed.startswith(f"{reference}@sha256:") and printed != f"{reference}@{pinned}"
        location = locate(reference)
        served = {"mediaType": INDEX_TYPES[0], "manifests": [
            {"digest": "sha256:" + "0" * 64, "platform": {"os": o, "architecture": a}}
            for o, a in registry.tags[(location.repository, location.tag)][1]
        ]}
        assert printed == f"{reference}@sha256:{hashlib.sha256(json.dumps(served).encode()).hexdigest()}"
