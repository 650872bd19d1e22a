"""What `langfuse-migrator` runs after Langfuse's own entrypoint: proof that both schemas are current.

The web image's entrypoint (`web/entrypoint.sh`) migrates PostgreSQL (`prisma migrate deploy`) and
ClickHouse (`packages/shared/clickhouse/scripts/up.sh`, golang-migrate) unless its switches say
otherwise, then execs the container's command. That script is not covered by Langfuse's semantic
versioning (`web/Dockerfile`: only the ENTRYPOINT is), so a renamed switch or a skipped step would let
the job succeed with web and worker starting on an old schema. The command therefore checks, with the
image's own tools, and fails the job otherwise:

- PostgreSQL: `prisma migrate status` (the Prisma CLI the image installs globally, 6.19.3 at v4.16.0)
  exits 1 when a migration of the image is not applied, failed, or the history diverged (Prisma CLI
  reference, "migrate status", exit codes since 4.3.0).
- ClickHouse: golang-migrate records each step in `schema_migrations (version, dirty, sequence)` and
  reads the latest row by `sequence` (golang-migrate database/clickhouse/clickhouse.go Version); it
  must be the image's highest migration (`packages/shared/clickhouse/migrations/unclustered`, as up.sh
  picks with CLICKHOUSE_CLUSTER_ENABLED=false) and not dirty. Asked over ClickHouse's HTTP interface
  (CLICKHOUSE_URL, what Langfuse itself queries) with node, the image's runtime.

Read at Langfuse v4.16.0; the image is 4.50.0.
"""

from __future__ import annotations

from urllib.parse import quote

MIGRATIONS_DIR = "packages/shared/clickhouse/migrations/unclustered"
PRISMA_SCHEMA = "./packages/shared/prisma/schema.prisma"
CURRENT = "llm-gateway: Langfuse schema current"

# Runs from the image's WORKDIR (/app), where the entrypoint leaves it. CLICKHOUSE_PASSWORD here is
# the URL form (url_query_value): the entrypoint pastes it into the migration URL; HTTP takes it decoded.
CLICKHOUSE_CHECK = f"""\
const fail = m => {{ console.error('llm-gateway: ' + m); process.exit(1); }};
const dir = '{MIGRATIONS_DIR}';
const latest = Math.max(...require('fs').readdirSync(dir).filter(f => f.endsWith('.up.sql')).map(f => parseInt(f, 10)));
const url = new URL(process.env.CLICKHOUSE_URL);
url.searchParams.set('database', process.env.CLICKHOUSE_DB || 'default');
url.searchParams.set('query', 'SELECT version, dirty FROM schema_migrations ORDER BY sequence DESC LIMIT 1 FORMAT JSON');
const headers = {{'X-ClickHouse-User': process.env.CLICKHOUSE_USER,
  'X-ClickHouse-Key': decodeURIComponent(process.env.CLICKHOUSE_PASSWORD)}};
require(url.protocol === 'https:' ? 'https' : 'http').get(url, {{headers, timeout: 60000}}, r => {{
  let body = ''; r.on('data', c => body += c); r.on('end', () => {{
    if (r.statusCode !== 200) fail(`ClickHouse answered ${{r.statusCode}}: ${{body.slice(0, 300)}}`);
    const row = JSON.parse(body).data[0];
    if (!row) fail('ClickHouse records no migration (schema_migrations is empty)');
    const version = Number(row.version);
    if (Number(row.dirty)) fail(`ClickHouse schema is dirty at version ${{version}}: a migration stopped half-way`);
    if (version !== latest) fail(`ClickHouse schema is at version ${{version}}, the image's migrations end at ${{latest}}`);
    console.log(`llm-gateway: ClickHouse schema at version ${{version}}, not dirty`);
  }});
}}).on('timeout', function () {{ this.destroy(new Error('no answer in 60 s')); }})
  .on('error', e => fail(`ClickHouse unreachable: ${{e.message}}`));
"""

# The container's command: the entrypoint execs it once its migrations ran (or were skipped).
SCHEMA_CHECK = f"""\
set -e
prisma migrate status --schema={PRISMA_SCHEMA}
node -e "$LLM_GATEWAY_CLICKHOUSE_CHECK"
echo '{CURRENT}'
"""


def url_query_value(text: str) -> str:
    """`text` percent-encoded for a URL's query: up.sh builds `...?username=$CLICKHOUSE_USER&password=
    $CLICKHOUSE_PASSWORD&...` unescaped, so `&`, `#`, `+`, `%`, `;` or a space in a password would cut
    or change it (Go's url.ParseQuery, which golang-migrate reads it with, decodes %XX)."""
    return quote(text, safe="")
