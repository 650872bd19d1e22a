"""The package's code for the containers that run it, without a custom image.

The deploy stores the `team_plane` modules as one JSON object in the stack's team-plane bucket,
under a key named by the object's SHA-256 (`CODE_KEY`). Every entrypoint that runs this code (the
LiteLLM container's start, the team-plane job's steps) is `BOOTSTRAP`, a `python3 -c` program of
about a kilobyte: it downloads the object with the container's AWS identity, refuses it unless its
SHA-256 is the one pinned in the container's environment, loads the entry's modules as the
`team_plane` package (whose `source` then answers from the downloaded object) and runs the entry's
`main(sys.argv)`. So a task definition, a compose file or a host's user data carries the same
kilobyte whatever the code's size, and a code change is a new key, rolled out like any other
configuration change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache

from team_plane import source

# Each entry and its modules in import order (each module's imports are loaded before it).
ENTRIES: Mapping[str, tuple[str, ...]] = {
    "job": ("document", "key_source", "http", "litellm", "litellm_members", "litellm_keys", "langfuse", "langfuse_access",
            "key_cache", "smoke", "job"),
    "litellm_start": ("document", "key_source", "litellm_start"),
}
# Modules no entry runs but an entry hands on (`team_plane.source`): LiteLLM's start writes the guard
# next to the proxy config, and the proxy loads it.
HANDED_ON = ("litellm_guard",)
CODE_VAR, SHA256_VAR, ENTRY_VAR = "LLM_GATEWAY_CODE", "LLM_GATEWAY_CODE_SHA256", "LLM_GATEWAY_ENTRY"

BOOTSTRAP = f"""\
import hashlib, json, os, sys, types
import boto3
url = os.environ["{CODE_VAR}"]
bucket, key = url.removeprefix("s3://").split("/", 1)
body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
if hashlib.sha256(body).hexdigest() != os.environ["{SHA256_VAR}"]:
    sys.exit("llm-gateway: " + url + " is not the code this container was deployed with (SHA-256 differs)")
sources, entry = json.loads(body), os.environ["{ENTRY_VAR}"]
package = types.ModuleType("team_plane")
package.__path__ = []
package.source = sources.__getitem__
sys.modules["team_plane"] = package
for name in {dict(ENTRIES)!r}[entry]:
    module = types.ModuleType("team_plane." + name)
    sys.modules[module.__name__] = module
    exec(compile(sources[name], "team_plane/" + name + ".py", "exec"), module.__dict__)
sys.exit(sys.modules["team_plane." + entry].main(sys.argv))
"""


@cache  # the modules' text does not change while a deploy runs, and every container's environment names it
def code() -> str:
    """The object the deploy stores: every module any entry loads, by name."""
    modules = sorted({name for names in ENTRIES.values() for name in names} | set(HANDED_ON))
    return json.dumps({name: source(name) for name in modules}, sort_keys=True)


def code_sha256() -> str:
    return hashlib.sha256(code().encode()).hexdigest()


def code_key() -> str:
    """Named by its content: a code change is a new key, never a changed object."""
    return f"team-plane/code/{code_sha256()}.json"


def entrypoint_environment(bucket: str, entry: str) -> dict[str, str]:
    """What a container running `BOOTSTRAP` for `entry` needs in its (plain) environment."""
    if entry not in ENTRIES:
        raise ValueError(f"no entry {entry!r} (known: {', '.join(ENTRIES)})")
    return {CODE_VAR: f"s3://{bucket}/{code_key()}", SHA256_VAR: code_sha256(), ENTRY_VAR: entry}
