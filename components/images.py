"""Image references to what runs: `name@sha256:...`, never a moving tag.

A reference that carries a digest (every default in config/images.py) runs by that digest. Its tag
is still looked up at deploy time: when the registry now serves another digest for it (a rebuilt
or patched release), the preview warns, so reviewers see it and `make pin-images` can move the pin
deliberately. A tag-only reference (a stack override) is resolved at deploy time instead. The
lookups use pulumi-docker's registry API client: no Docker daemon needed.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
import pulumi_docker as docker

from config.images import parse_image


def pinned_images(references: Iterable[str]) -> dict[str, pulumi.Output[str]]:
    """Image reference -> `name@sha256:<digest>`; one registry lookup per distinct reference."""
    pinned = {}
    for reference in sorted(set(references)):
        image = parse_image(reference)
        current = docker.get_registry_image_output(name=image.tagged).sha256_digest
        if image.pinned:
            current.apply(lambda digest, image=image: _warn_if_moved(image.tagged, image.digest, digest))
            pinned[reference] = pulumi.Output.from_input(image.pinned)
        else:
            pinned[reference] = current.apply(lambda digest, name=image.name: f"{name}@{digest}")
    return pinned


def _warn_if_moved(tagged: str, pinned: str, current: str) -> None:
    if current != pinned:
        pulumi.log.warn(
            f"{tagged} now serves {current}, the stack runs the pinned {pinned}: review the new build "
            "and move the pin with `make pin-images` (or keep it)"
        )
