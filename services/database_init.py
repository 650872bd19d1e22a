"""Create each application's database and user on the shared PostgreSQL, idempotently.

Runs as a one-off job (ECS task / compose service) with the master credentials, before the
applications start and on every deploy. Re-running converges: roles and databases are created
when missing, passwords are (re)set from Secrets Manager, and each database is closed to every
role but its owner. Passwords arrive in the environment and are bound as psql variables, so they
never appear in the script, a command line or a log.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppDatabase:
    name: str  # database and role name
    password_env: str  # environment variable holding the role's password


APP_DATABASES = (
    AppDatabase("litellm", "LITELLM_DB_PASSWORD"),
    AppDatabase("langfuse", "LANGFUSE_DB_PASSWORD"),
)


def _statements(db: AppDatabase) -> str:
    var = f"{db.name}_password"
    return f"""\
SELECT 'CREATE ROLE {db.name} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{db.name}') \\gexec
ALTER ROLE {db.name} WITH LOGIN PASSWORD :'{var}';
GRANT {db.name} TO CURRENT_USER;
SELECT 'CREATE DATABASE {db.name} OWNER {db.name}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{db.name}') \\gexec
REVOKE ALL ON DATABASE {db.name} FROM PUBLIC;
GRANT ALL ON DATABASE {db.name} TO {db.name};
"""


# The team-plane job hashes Langfuse key secrets with pgcrypto's crypt()/gen_salt('bf')
# (team_plane/langfuse.py). pgcrypto is a trusted extension since PostgreSQL 13 (commit eb67623c
# "Mark some contrib modules as trusted": CREATE privilege on the database suffices), so it is
# created as the database's owner, which then owns it like the rest of its schema.
EXTENSIONS = """\\connect langfuse
SET ROLE langfuse;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
RESET ROLE;
"""


def init_script() -> str:
    """Shell script run with PGHOST/PGUSER/PGPASSWORD/PGSSLMODE and each app password set."""
    variables = " ".join(f"-v {db.name}_password=\"${db.password_env}\"" for db in APP_DATABASES)
    sql = "".join(_statements(db) for db in APP_DATABASES) + EXTENSIONS
    return f"""set -eu
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet {variables} <<'SQL'
{sql}SQL
echo "application databases ready: {', '.join(db.name for db in APP_DATABASES)}"
"""
