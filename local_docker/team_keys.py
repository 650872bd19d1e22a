"""The team keys on the local platform: no Secrets Manager, so each key pair has an id and a version
of its own, and every pair travels in one secret variable (team_plane/key_source.py).

The id takes the place of the secret's ARN in the team document (`keySecretArn`): the secret's name
as the AWS platforms would give it. The version takes the place of the secret's version id: a digest
of the pair, so a rotated pair is a new version, which changes the document (the team plane runs
again and LiteLLM restarts), as a new secret version does on AWS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

VERSION_HEX = 32


def key_id(prefix: str, logical_secret: str) -> str:
    """e.g. llm-gateway-local/langfuse-keys/teams/mle."""
    return f"{prefix}/{logical_secret}"


def key_version(value: Mapping[str, str]) -> str:
    """A digest of the pair: it says that the pair changed and nothing of it (128 bits of a SHA-256 of
    values with 122 random bits each: no digest of them can be reversed or guessed)."""
    return hashlib.sha256(json.dumps(dict(value), sort_keys=True).encode()).hexdigest()[:VERSION_HEX]
