"""Load dynamic providers the way the Pulumi engine does, in a separate interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime._serialization import _serialize


def run_serialized_provider(payload: str, cwd: Path, call: str) -> subprocess.CompletedProcess:
    """Load a serialized provider the way the engine's provider process does (pulumi/dynamic/
    __main__.py: base64, dill.loads under _deserialize) in a fresh interpreter started in `cwd`,
    with nothing else on its import path, then print `call` evaluated on it."""
    script = (
        "import base64, sys, dill\n"
        "from pulumi.runtime._serialization import _deserialize\n"
        "provider = _deserialize(lambda: dill.loads(base64.b64decode(sys.stdin.read())))\n"
        f"print(type(provider).__module__, {call})\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", script], input=payload, cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def serialized(provider) -> str:
    """Exactly what dynamic.Resource stores under __provider."""
    payload, contains_secrets = _serialize(True, serialize_provider, provider)
    assert not contains_secrets
    return payload
