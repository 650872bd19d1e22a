"""The LiteLLM container's start: embedded with team_plane/document.py as its entrypoint
(`python3 -c`, team_plane/embed.py).

It runs with the image's python3 and the packages LiteLLM itself needs (boto3 for Bedrock, PyYAML
for its config), so it imports nothing of this project beyond the team document's reader and the
key source (team_plane/key_source.py: Secrets Manager, or the environment on the local platform). It refuses to start the proxy (a clear
message, exit 1) when any variable of the proxy config's contract is missing, or when a team's
Langfuse keys cannot be read: LiteLLM would otherwise export that team's traces with the
credentials `None:None`, which Langfuse refuses, and the team's traces would be lost without an
error. Then it reads the team-plane document (renderers/team_document.py), fetches every team's key
pair from its secret, adds each team's `default_team_settings` entry to the base proxy config,
writes the config and, beside it, the guard the config names (team_plane/litellm_guard.py: what no
caller may change about tracing), then execs the proxy. So nothing per team travels in the task
definition, the compose file or the host's user data: those stay the same size for 1 team or 200.
"""

import json
import os
import sys
import tempfile

import yaml

from team_plane import source
from team_plane.document import parse_team_document
from team_plane.key_source import KEYS_VAR, secrets_client

LANGFUSE_HOST_VAR = "LANGFUSE_HOST"
CONFIG_FILE = "litellm-config.yaml"  # in the temp dir: /tmp in the container, $TMPDIR elsewhere
# LiteLLM imports the modules its config names from the config file's directory (get_instance_fn).
GUARD_MODULE = "llm_gateway_guard"
DOCUMENT_VAR = "LLM_GATEWAY_TEAM_DOCUMENT"  # s3://<bucket>/<key>
# The object version a task was deployed with (ECS): a rollback or a scale-out reads that document,
# not whatever a later deploy wrote. Without it (the host) the latest version is read.
DOCUMENT_VERSION_VAR = "LLM_GATEWAY_TEAM_DOCUMENT_VERSION"
# How the proxy is started: LiteLLM's command line, with GUNICORN_CMD_ARGS applied. gunicorn's own
# command line reads that variable (gunicorn 23, gunicorn/app/base.py: Application.load_config), but
# LiteLLM's `--run_gunicorn` runs a BaseApplication whose load_config sets LiteLLM's options only
# (litellm/proxy/proxy_cli.py, _run_gunicorn_server), so gunicorn's 2 s keep-alive would stay. This
# applies the variable over LiteLLM's options, in the order gunicorn's own Application does
# (application settings, then the environment, ...).
# Once gunicorn's master has loaded the app (LiteLLM sets `"preload": True`) and before it forks the
# workers (its `when_ready` hook), the master
# - imports what each worker would otherwise import at its start (Langfuse's SDK, for the teams'
#   callbacks) or on its first call (MCP's server manager, the tokenizer), found with
#   PYTHONPROFILEIMPORTTIME on LiteLLM 1.104.0: a worker that replaces a recycled one serves its
#   first call without a second of imports;
# - freezes its objects, after the recipe of Python's gc.freeze documentation for a process that
#   forks (collector off from the start, objects frozen before forking, collector on again: here in
#   the master just before it forks, which the workers inherit): the workers' collections, the full
#   one as each exits at its recycling limit included, no longer walk the 650,000 objects LiteLLM's
#   modules leave (about 2 s of CPU per worker exit) nor write to their pages, which the workers keep
#   sharing; and the master imports LiteLLM in about 5 s of CPU instead of 7, for some 8 MB of
#   import-time garbage it keeps (890,000 objects frozen in all).
# The master runs no native route (LiteLLM's fork guard, litellm/rust_bridge/fork_guard.py, refuses
# one there). An image whose LiteLLM lays these modules out otherwise starts as LiteLLM alone would:
# what fails to import is logged and left to the workers. MCP's server manager brings sse_starlette,
# whose import makes uvicorn's exit handler end MCP streams at SIGTERM (sse_starlette/sse.py): the
# gateway serves no MCP. tests/integration/test_litellm_serving.py holds the workers to it.
WORKER_IMPORTS = (
    "litellm.integrations.langfuse.langfuse_sdk",
    "litellm.proxy._experimental.mcp_server.mcp_server_manager",
    "litellm.litellm_core_utils.default_encoding",
    "litellm.proxy.pass_through_endpoints.llm_passthrough_endpoints",
    "litellm.integrations.otel.logger",
    "litellm.proxy._experimental.mcp_server.auth.user_api_key_auth_mcp",
)
SERVE = f"""\
import gc
import sys
if "--run_gunicorn" in sys.argv:  # on again in before_forking, which only gunicorn calls
    gc.disable()
import gunicorn.app.base
from litellm.proxy.proxy_cli import run_server

load_config = gunicorn.app.base.BaseApplication.do_load_config


def before_forking(server):
    for name in {WORKER_IMPORTS!r}:
        try:
            __import__(name)
        except Exception as error:  # another LiteLLM: its workers import what they need themselves
            server.log.warning("llm-gateway: %s is left to the workers (%r)", name, error)
    gc.freeze()
    gc.enable()
    server.log.info("llm-gateway: %d objects frozen before forking the workers, collector enabled: %s",
                    gc.get_freeze_count(), gc.isenabled())


def do_load_config(application):
    load_config(application)
    settings = application.cfg.parser().parse_args(application.cfg.get_cmd_args_from_env())
    for name, value in vars(settings).items():
        if value is not None and name != "args":
            application.cfg.set(name.lower(), value)
    ready = application.cfg.when_ready  # gunicorn's own (nothing), or one LiteLLM's options set
    application.cfg.set("when_ready", lambda server: (before_forking(server), ready(server)))


gunicorn.app.base.BaseApplication.do_load_config = do_load_config
sys.exit(run_server(prog_name="litellm"))
"""
# BatchGetSecretValue takes at most 20 ids (SecretIdList, botocore secretsmanager-2017-10-17) and,
# given ids, answers them all without paging (MaxResults/NextToken need Filters).
SECRETS_PER_CALL = 20


def team_settings_entry(team_id, public_var, secret_var):
    """A team's `default_team_settings` entry: its traces go to its own Langfuse project."""
    return {
        "team_id": team_id,
        # Failed calls too (throttling, validation errors): they are what a team debugs.
        "success_callback": ["langfuse"],
        "failure_callback": ["langfuse"],
        "langfuse_public_key": f"os.environ/{public_var}",
        "langfuse_secret_key": f"os.environ/{secret_var}",
        "langfuse_host": f"os.environ/{LANGFUSE_HOST_VAR}",
    }


def langfuse_client_ceiling(team_count):
    """MAX_LANGFUSE_INITIALIZED_CLIENTS for `team_count` teams.

    LiteLLM 1.104.0 builds one Langfuse client per key pair and refuses a new one past this
    count per process (litellm/integrations/langfuse/langfuse.py, safe_init_langfuse_client;
    default 50, litellm/constants.py): the call's trace is then lost without an error. One client
    per team plus the platform's, doubled because the count is a soft budget (concurrent first
    calls of one pair each take a slot, litellm_core_utils/specialty_caches/dynamic_logging_cache.py).
    """
    return max(50, 2 * (team_count + 1))


class Refusal(Exception):
    """Why the proxy must not start."""


def read_document(s3, url, version=None):
    bucket, _, key = url.removeprefix("s3://").partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))["Body"].read()
        return parse_team_document(body.decode())
    except Exception as error:  # any failure, one message: the start is refused either way
        at = f" (version {version})" if version else ""
        raise Refusal(f"cannot read the team-plane document {url}{at}: {error}") from error


def read_team_keys(secrets, teams):
    """Team name -> (public key, secret key), every team's pair read from its secret."""
    arns = [team["keySecretArn"] for team in teams]
    values, errors = {}, {}
    for start in range(0, len(arns), SECRETS_PER_CALL):
        try:
            answer = secrets.batch_get_secret_value(SecretIdList=arns[start:start + SECRETS_PER_CALL])
        except Exception as error:
            raise Refusal(f"cannot read the teams' Langfuse keys: {error}") from error
        values.update({item["ARN"]: item.get("SecretString") for item in answer.get("SecretValues", [])})
        errors.update({item["SecretId"]: item.get("ErrorCode", "error") for item in answer.get("Errors", [])})
    pairs, unreadable = {}, []
    for team in teams:
        arn = team["keySecretArn"]
        try:
            pair = json.loads(values[arn])
            pairs[team["name"]] = (pair["publicKey"], pair["secretKey"])
            if not all(pairs[team["name"]]):
                raise ValueError("empty key")
        except Exception:
            unreadable.append(f"{team['name']} ({errors.get(arn, 'no publicKey/secretKey in ' + arn)})")
    if unreadable:
        raise Refusal("unreadable Langfuse keys of teams: " + ", ".join(unreadable))
    return pairs


def proxy_config(base_text, teams):
    """The base config (rendered by renderers/litellm_proxy.py) with every team's entry added."""
    config = yaml.safe_load(base_text)
    entries = [team_settings_entry(t["name"], t["publicKeyVar"], t["secretKeyVar"]) for t in teams]
    config["litellm_settings"]["default_team_settings"] = entries
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False, width=120)


def prepare(environ, s3, secrets):
    """The config text and the environment the proxy gets; raises Refusal."""
    required = [*environ["LITELLM_REQUIRED_ENV"].split(","), DOCUMENT_VAR]
    missing = [n for n in required if not environ.get(n)]
    if missing:
        raise Refusal("missing environment: " + ", ".join(missing))
    teams = read_document(s3, environ[DOCUMENT_VAR], environ.get(DOCUMENT_VERSION_VAR))["teams"]
    environment = dict(environ)
    # Every pair a second time, in one variable (the local platform's key source): the proxy needs
    # each team's two variables only.
    environment.pop(KEYS_VAR, None)
    pairs = read_team_keys(secrets, teams)
    for team in teams:
        environment[team["publicKeyVar"]], environment[team["secretKeyVar"]] = pairs[team["name"]]
    environment["MAX_LANGFUSE_INITIALIZED_CLIENTS"] = str(langfuse_client_ceiling(len(teams)))
    return proxy_config(environ["LITELLM_PROXY_CONFIG"], teams), environment


def write_config(directory, text):
    """The config file and, beside it, the guard module it names; returns the config's path."""
    with open(os.path.join(directory, f"{GUARD_MODULE}.py"), "w") as guard:
        guard.write(source("litellm_guard"))
    path = os.path.join(directory, CONFIG_FILE)
    with open(path, "w") as config:
        config.write(text)
    return path


def main(argv):
    """`argv` as python3 -c hands it over: argv[1:] are the proxy's own arguments (--port ...)."""
    import boto3

    try:
        text, environment = prepare(os.environ, boto3.client("s3"), secrets_client(os.environ))
    except Refusal as refusal:
        sys.exit(f"llm-gateway: refusing to start LiteLLM, {refusal}")
    path = write_config(tempfile.gettempdir(), text)
    # The image's python3, which runs this start and LiteLLM's command line alike.
    os.execve(sys.executable, [sys.executable, "-c", SERVE, "--config", path, *argv[1:]], environment)


if __name__ == "__main__":
    main(sys.argv)
