"""Langfuse web's server code for tests/integration/test_langfuse_keep_alive.py: the standalone
`server.js` that the Next.js version Langfuse pins (package.json) writes for a one-route app, the route
at Langfuse's readiness path.

Built once per pinned Next.js, app and Node, like the tools `npm ci` installs: `make test` builds it
before the suite starts (`python -m tests.support.next_server`; again after `make clean`), and a run
without make builds it on first use. A build takes about 15 to 25 s of CPU, a check of an existing
one a few hundredths of a second.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEXT = ROOT / "node_modules" / "next" / "dist" / "bin" / "next"
BUILD = ROOT / "build" / "langfuse-web-server"
READY = "/api/public/ready"
APP_FILES = {
    f"pages{READY}.js": 'export default function handler(req, res) { res.status(200).json({ status: "OK" }) }\n',
    "package.json": '{"private": true}\n',
    # The repository's node_modules lie outside the app: both bundler and tracer look from "/".
    "next.config.mjs": 'export default { output: "standalone", turbopack: { root: "/" }, outputFileTracingRoot: "/" };\n',
}


def _fingerprint() -> str:
    """What the build depends on: the app, the pinned Node packages and Node itself."""
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    digest = hashlib.sha256((ROOT / "package-lock.json").read_bytes() + node.encode())
    for name, text in sorted(APP_FILES.items()):
        digest.update(f"{name}\0{text}\0".encode())
    return digest.hexdigest()


def server_js() -> Path:
    """The built server.js, built first if the pinned Next.js or the app changed since the last build."""
    app = BUILD / "app"
    server = app / ".next" / "standalone" / app.relative_to("/") / "server.js"  # its place under the tracing root
    stamp = BUILD / "built-from"
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a second caller waits and finds it built
        fingerprint = _fingerprint()
        if stamp.exists() and stamp.read_text() == fingerprint and server.exists():
            return server
        stamp.unlink(missing_ok=True)  # a build that stops half way is never taken for a finished one
        shutil.rmtree(app, ignore_errors=True)
        for name, text in APP_FILES.items():
            (app / name).parent.mkdir(parents=True, exist_ok=True)
            (app / name).write_text(text)
        (app / "node_modules").symlink_to(ROOT / "node_modules")
        build = subprocess.run(["node", str(NEXT), "build"], cwd=app, capture_output=True, text=True,
                               env={**os.environ, "NEXT_TELEMETRY_DISABLED": "1"}, timeout=600)
        if build.returncode != 0:
            raise RuntimeError(f"next build failed:\n{build.stdout[-3000:]}{build.stderr[-3000:]}")
        stamp.write_text(fingerprint)
        return server


if __name__ == "__main__":
    print(server_js().relative_to(ROOT))
