"""The parts of the Langfuse web image that `langfuse-migrator` runs, as a directory tree and fakes.

Transcribed from langfuse v4.16.0 (the image is 4.50.0): `web/entrypoint.sh` (Postgres migrations
with the image's Prisma CLI unless LANGFUSE_AUTO_POSTGRES_MIGRATION_DISABLED is "true", then ClickHouse
through `packages/shared/clickhouse/scripts/up.sh` unless LANGFUSE_AUTO_CLICKHOUSE_MIGRATION_DISABLED
is "true", then `exec "$@"`), and up.sh's unclustered branch, which pastes user and password into the
migration URL unescaped. A later release may decide differently when to migrate (OPT_IN_POSTGRES,
OPT_IN_CLICKHOUSE: a renamed switch that must be set to migrate).
The image's /bin/sh is busybox (Alpine), so the scripts run under busybox here.

The fakes keep their state in files under `state/`:
- `prisma`: `migrate deploy` applies the image's migrations; `migrate status` exits 1 while any is not
  applied (Prisma CLI reference, "migrate status", exit codes).
- `migrate` (golang-migrate): reads the -database URL as Go's net/url does (fragment cut at `#`,
  query split at `&`, `;` refused, `+` a space, %XX decoded), logs in to ClickHouse with it, and
  `up` records the source directory's highest version, not dirty.
- ClickHouse: an HTTP server answering the `schema_migrations` query as ClickHouse's JSON format does
  (Int64 quoted), to the user and password of `state/clickhouse-users.json`, sent as
  X-ClickHouse-User / X-ClickHouse-Key (ClickHouse docs, "HTTP interface").
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

from tests.support.loopback import LoopbackHandler, serving

LATEST_CLICKHOUSE_MIGRATION = 46  # packages/shared/clickhouse/migrations/unclustered at v4.16.0
# When the entrypoint migrates: v4.16.0's switches, and a later release's that this stack does not set.
POSTGRES_SWITCH = '[ "$LANGFUSE_AUTO_POSTGRES_MIGRATION_DISABLED" != "true" ]'
CLICKHOUSE_SWITCH = '[ "$LANGFUSE_AUTO_CLICKHOUSE_MIGRATION_DISABLED" != "true" ]'
OPT_IN_POSTGRES = '[ "$LANGFUSE_POSTGRES_MIGRATION_ENABLED" = "true" ]'
OPT_IN_CLICKHOUSE = '[ "$LANGFUSE_CLICKHOUSE_MIGRATION_ENABLED" = "true" ]'

ENTRYPOINT = """\
#!/bin/sh
if [ -z "$DIRECT_URL" ]; then
    export DIRECT_URL="${{DATABASE_URL}}"
fi
if {postgres_switch}; then
    prisma db execute --url "$DIRECT_URL" --file "./packages/shared/scripts/cleanup.sql"
    prisma migrate deploy --schema=./packages/shared/prisma/schema.prisma
fi
status=$?
if [ $status -ne 0 ]; then
    exit $status
fi
if {clickhouse_switch}; then
    cd ./packages/shared
    sh ./clickhouse/scripts/up.sh
    status=$?
    cd ../../
fi
if [ $status -ne 0 ]; then
    exit $status
fi
exec "$@"
"""

UP_SH = """\
#!/bin/bash
if [ -z "${CLICKHOUSE_DB}" ]; then
    export CLICKHOUSE_DB="default"
fi
if [ "$CLICKHOUSE_CLUSTER_ENABLED" == "false" ] ; then
  if [ "$CLICKHOUSE_MIGRATION_SSL" = true ] ; then
      DATABASE_URL="${CLICKHOUSE_MIGRATION_URL}?username=${CLICKHOUSE_USER}&password=${CLICKHOUSE_PASSWORD}&database=${CLICKHOUSE_DB}&x-multi-statement=true&secure=true&skip_verify=true&x-migrations-table-engine=MergeTree"
  else
      DATABASE_URL="${CLICKHOUSE_MIGRATION_URL}?username=${CLICKHOUSE_USER}&password=${CLICKHOUSE_PASSWORD}&database=${CLICKHOUSE_DB}&x-multi-statement=true&x-migrations-table-engine=MergeTree"
  fi
  migrate -source file://clickhouse/migrations/unclustered -database "$DATABASE_URL" up
else
  echo "clustered ClickHouse is not what this stack runs" >&2
  exit 1
fi
"""

PRISMA = """\
import json, sys
from pathlib import Path
state = Path(sys.argv[0]).resolve().parent.parent / "state" / "postgres.json"
args = sys.argv[1:]
applied = json.loads(state.read_text())["applied"] if state.exists() else False
if args[:2] == ["db", "execute"]:
    sys.exit(0)
if args[:2] == ["migrate", "deploy"]:
    state.write_text(json.dumps({"applied": True}))
    print("All migrations have been successfully applied.")
    sys.exit(0)
if args[:2] == ["migrate", "status"]:
    if applied:
        print("Database schema is up to date!")
        sys.exit(0)
    print("Following migration have not yet been applied:\\n20260101000000_latest")
    sys.exit(1)
sys.exit(f"fake prisma: unexpected {args}")
"""

MIGRATE = """\
import json, re, sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
state = Path(sys.argv[0]).resolve().parent.parent / "state"
args = sys.argv[1:]
source, url, command = args[args.index("-source") + 1], args[args.index("-database") + 1], args[-1]
query = urlsplit(url).query  # a '#' ends the URL's query: the rest is its fragment
if ";" in query:
    sys.exit("error: invalid semicolon separator in query")
params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
users = json.loads((state / "clickhouse-users.json").read_text())
if users.get(params.get("username")) != params.get("password"):
    sys.exit("error: code: 516, message: default: Authentication failed: password is incorrect")
if command == "up":
    directory = Path(source.removeprefix("file://"))
    latest = max(int(f.name.split("_")[0]) for f in directory.glob("*.up.sql"))
    (state / "clickhouse.json").write_text(json.dumps({"version": latest, "dirty": 0}))
"""


def build_image(root: Path, postgres_switch: str = POSTGRES_SWITCH, clickhouse_switch: str = CLICKHOUSE_SWITCH) -> Path:
    """The image's /app under `root`, fakes on `root/bin`; returns the /app directory."""
    app, bin_dir, state = root / "app", root / "bin", root / "state"
    for directory in (app / "web", app / "packages/shared/clickhouse/scripts", app / "packages/shared/prisma",
                      app / "packages/shared/scripts", bin_dir, state):
        directory.mkdir(parents=True, exist_ok=True)
    (app / "web/entrypoint.sh").write_text(ENTRYPOINT.format(postgres_switch=postgres_switch, clickhouse_switch=clickhouse_switch))
    (app / "packages/shared/clickhouse/scripts/up.sh").write_text(UP_SH)
    (app / "packages/shared/prisma/schema.prisma").write_text("// the image's schema\n")
    (app / "packages/shared/scripts/cleanup.sql").write_text("SELECT 1;\n")
    migrations = app / "packages/shared/clickhouse/migrations/unclustered"
    migrations.mkdir(parents=True)
    for version in range(1, LATEST_CLICKHOUSE_MIGRATION + 1):
        for direction in ("up", "down"):
            (migrations / f"{version:04d}_step.{direction}.sql").write_text("SELECT 1;\n")
    for name, code in (("prisma", PRISMA), ("migrate", MIGRATE)):
        tool = bin_dir / name
        tool.write_text(f"#!{sys.executable}\n{code}")
        tool.chmod(0o755)
    busybox = shutil.which("busybox")
    assert busybox, "busybox is a system dependency (scripts/install-system-deps.sh)"
    (bin_dir / "sh").symlink_to(busybox)
    return app


class _ClickHouse(LoopbackHandler):
    state: Path

    def do_GET(self):  # noqa: N802 (http.server's name)
        users = json.loads((self.state / "clickhouse-users.json").read_text())
        user, key = self.headers.get("X-ClickHouse-User"), self.headers.get("X-ClickHouse-Key")
        query = parse_qs(urlparse(self.path).query).get("query", [""])[0]
        if users.get(user) != key:
            return self._answer(516, f"Code: 516. DB::Exception: {user}: Authentication failed. (AUTHENTICATION_FAILED)")
        if "FROM schema_migrations" not in query or "FORMAT JSON" not in query:
            return self._answer(400, f"unexpected query {query}")
        recorded = self.state / "clickhouse.json"
        rows = [json.loads(recorded.read_text())] if recorded.exists() else []
        data = [{"version": str(row["version"]), "dirty": row["dirty"]} for row in rows]
        return self._answer(200, json.dumps({"meta": [{"name": "version", "type": "Int64"}, {"name": "dirty", "type": "UInt8"}],
                                             "data": data, "rows": len(data)}))

    def _answer(self, status: int, body: str) -> None:
        self.send_bytes(status, body.encode(), "application/json")


@contextmanager
def fake_clickhouse(state: Path) -> Iterator[str]:
    """An HTTP ClickHouse on a free loopback port answering from `state`; yields its URL."""
    handler = type("ClickHouse", (_ClickHouse,), {"state": state})
    with serving(SimpleNamespace(), handler) as clickhouse:
        yield clickhouse.url
