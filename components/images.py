"""Resolve image references to digests, so every container runs `name@sha256:...`.

A reference that carries a digest is used as is. A tag-only reference is looked up in its
registry at deploy time (pulumi-docker's registry lookup, no Docker daemon needed); the result
is what runs, and what the stack exports for review and for freezing into config.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
import pulumi_docker as docker

from config.images import parse_image


def pinned_images(references: Iterable[str]) -> dict[str, pulumi.Output[str]]:
    """Image reference -> `name@sha256:<digest>`; one registry lookup per distinct tag."""
    pinned = {}
    for reference in sorted(set(references)):
        image = parse_image(reference)
        if image.pinned:
            pinned[reference] = pulumi.Output.from_input(image.pinned)
        else:
            digest = docker.get_registry_image_output(name=image.tagged).sha256_digest
            pinned[reference] = digest.apply(lambda d, name=image.name: f"{name}@{d}")
    return pinned
