"""Write the Langfuse schema fixture the team plane's SQL tests load (tests/support/langfuse_schema/).

The team plane writes into Langfuse's own PostgreSQL tables (team_plane/langfuse.py,
team_plane/langfuse_access.py). Its tests must run against those tables exactly as Langfuse's
migrations create them, but no package carries the migrations (`@langfuse/shared` is private) and CI
cannot reach GitHub, and this repository does not carry Langfuse's code. So this script, run where a
Langfuse git mirror is, applies every migration of a tag to a throwaway PostgreSQL (Debian's, as the
tests start it: tests/support/postgres_server.py) and writes a schema-only dump of the tables the
team plane reads or writes and those they reference (`TABLES`), with the enum types their columns
use, named with the tag. The tests load that file; a Langfuse upgrade regenerates it:

    .venv/bin/python scripts/langfuse_schema_fixture.py --tag v4.16.0

Each migration file runs on its own (psql, ON_ERROR_STOP), in name order, outside one transaction,
as Prisma's `migrate deploy` runs them: 20240917183012_remove_covered_indexes_12 uses
`DROP INDEX CONCURRENTLY`, which no transaction block may hold.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.postgres_server import PostgresServer, running_postgres  # noqa: E402

DEFAULT_MIRROR = Path("/work/.mirror/langfuse+langfuse/repo")
MIGRATIONS = "packages/shared/prisma/migrations"
FIXTURE_DIR = Path(__file__).resolve().parent.parent / "tests" / "support" / "langfuse_schema"
# What the team plane reads or writes; the dump adds every table these reference, transitively (a
# dump must load on its own).
TABLES = ("users", "organizations", "projects", "api_keys", "organization_memberships", "project_memberships",
          "membership_invitations")
PASSWORD = "fixture-password"
# The enum types the dumped tables' columns use, as CREATE TYPE statements (pg_dump -t dumps no types).
ENUMS_SQL = """
SELECT format('CREATE TYPE public.%I AS ENUM (%s);', t.typname,
              string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder))
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.oid IN (SELECT a.atttypid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(:'tables'::text[]) AND a.attnum > 0)
GROUP BY t.typname ORDER BY t.typname;
"""
# The tables the listed ones reference through foreign keys, transitively.
REFERENCED_SQL = """
WITH RECURSIVE reached(name) AS (
  SELECT unnest(:'tables'::text[])
  UNION
  SELECT confrelid::regclass::text FROM pg_constraint, reached WHERE contype = 'f' AND conrelid::regclass::text = reached.name
) SELECT name FROM reached ORDER BY name;
"""


def pg_dump(url: str, *args: str) -> str:
    return subprocess.run(["pg_dump", *args, url], capture_output=True, text=True, check=True, timeout=120).stdout


def fixture_path(tag: str) -> Path:
    return FIXTURE_DIR / f"{tag}.sql"


def migration_files(mirror: Path, tag: str) -> list[str]:
    """Every migration.sql of the tag, in name order (Prisma applies them so: timestamps lead)."""
    listed = subprocess.run(["git", "-C", str(mirror), "ls-tree", "-r", "-z", "--name-only", tag, MIGRATIONS],
                            capture_output=True, text=True, check=True).stdout.split("\0")  # names may hold spaces
    return sorted(path for path in listed if path.endswith("/migration.sql"))


def apply_migrations(server: PostgresServer, url: str, mirror: Path, tag: str) -> int:
    files = migration_files(mirror, tag)
    for path in files:
        sql = subprocess.run(["git", "-C", str(mirror), "show", f"{tag}:{path}"], capture_output=True, text=True,
                             check=True).stdout
        try:
            server.psql(url, sql)
        except RuntimeError as error:
            raise SystemExit(f"{path}: {error}") from error
    return len(files)


def _array(names) -> str:
    return "tables={" + ",".join(names) + "}"


def dumped_tables(server: PostgresServer, url: str) -> list[str]:
    return server.psql(url, REFERENCED_SQL, "-v", _array(TABLES)).split()


def dump(server: PostgresServer, url: str, tables: list[str]) -> str:
    enums = server.psql(url, ENUMS_SQL, "-v", _array(tables))
    text = pg_dump(url, "--schema-only", "--no-owner", "--no-privileges", *(f"--table=public.{table}" for table in tables))
    # pg_dump's \restrict guard (PostgreSQL 15.14+) holds a random key: left out, the file is the same
    # for the same tag, and loads with any psql. Its data is our own throwaway database's.
    return enums + "".join(line for line in text.splitlines(keepends=True)
                           if not line.startswith(("\\restrict ", "\\unrestrict ")))


def render(tag: str, commit: str, count: int, tables: list[str], body: str) -> str:
    header = (
        f"-- Langfuse's PostgreSQL schema at {tag} (commit {commit}): the tables {', '.join(tables)}\n"
        f"-- and the enum types they use, as its {count} Prisma migrations ({MIGRATIONS}) create them.\n"
        f"-- Generated by scripts/langfuse_schema_fixture.py --tag {tag} (each migration applied on its own to\n"
        "-- Debian's PostgreSQL, then pg_dump --schema-only of these tables); do not edit. A Langfuse upgrade\n"
        "-- regenerates it from the new tag.\n"
    )
    return header + body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", required=True, help="the Langfuse tag, e.g. v4.16.0")
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="a git clone of langfuse/langfuse")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "-C", str(args.mirror), "rev-list", "-n", "1", args.tag], capture_output=True,
                            text=True, check=True).stdout.strip()
    with running_postgres(PASSWORD) as server:
        url = server.url("postgres", PASSWORD, "postgres")
        count = apply_migrations(server, url, args.mirror, args.tag)
        tables = dumped_tables(server, url)
        text = render(args.tag, commit, count, tables, dump(server, url, tables))
    path = fixture_path(args.tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path} ({count} migrations of {args.tag})")


if __name__ == "__main__":
    main()
