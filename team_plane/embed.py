"""The job's source as a `python3 -c` program, so the stock LiteLLM image runs it (no custom image):
the package's modules travel compressed in the entrypoint (an ECS task definition is 64 KiB in
all) and are loaded as the `team_plane` package before `main` runs."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

# In import order: each module's imports are loaded before it.
MODULES = ("document", "http", "litellm", "langfuse", "job")
PACKAGE = Path(__file__).parent

BOOTSTRAP = """\
import base64, json, sys, types, zlib
sources = json.loads(zlib.decompress(base64.b64decode("{payload}")))
package = types.ModuleType("team_plane")
package.__path__ = []
sys.modules["team_plane"] = package
for name in {modules!r}:
    module = types.ModuleType("team_plane." + name)
    sys.modules[module.__name__] = module
    exec(compile(sources[name], "team_plane/" + name + ".py", "exec"), module.__dict__)
sys.exit(sys.modules["team_plane.job"].main(sys.argv))
"""


def program() -> str:
    sources = {name: (PACKAGE / f"{name}.py").read_text() for name in MODULES}
    payload = base64.b64encode(zlib.compress(json.dumps(sources).encode(), 9)).decode()
    return BOOTSTRAP.format(payload=payload, modules=MODULES)
