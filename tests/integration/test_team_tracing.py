"""Proof with the real proxy: each team's calls are traced in that team's Langfuse project only.

The pinned LiteLLM proxy is started exactly as the `litellm` container starts it (the spec's
entrypoint, i.e. LITELLM_STARTUP_GUARD, plus its command and environment) in front of two loopback
fakes: a Bedrock runtime (tests/support/fake_bedrock.py) and a Langfuse (tests/support/fake_langfuse.py)
that records which key pair every OTEL export arrives with. Every call carries a unique marker in
its user message; the exported spans are decoded (OTLP protobuf) to attribute each export to the
call it traces.

Deviations from the container, all test-only:
- no DATABASE_URL (no database here): it is left out of the environment and of LITELLM_REQUIRED_ENV;
- `python3` is this virtualenv's interpreter (which the start execs again to serve the pinned
  proxy), with the virtualenv's bin first on PATH;
- `--host 127.0.0.1 --port <free port>` follow the spec's command (the guard forwards its argv,
  and the last --port wins);
- the rendered config gets `general_settings.custom_auth` (bearer token -> team, instead of
  virtual keys in a database) and each model's `aws_bedrock_runtime_endpoint` (the fake Bedrock);
- AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are fake static credentials (the task role in AWS);
- the team-plane document and the teams' key secrets are served by moto's S3 and Secrets Manager
  on loopback (tests/support/moto_aws.py), reached through AWS_ENDPOINT_URL;
- REDIS_HOST / REDIS_PORT / REDIS_SSL point at a real loopback redis-server (tests/support/redis_server.py)
  with the REDIS_PASSWORD it was started with, instead of ElastiCache with TLS.

The teams' keys reach the proxy only through the guard: the container environment holds the
platform's pair, the guard reads each team's from its secret (named by the document).

Before the happy paths, callers try to steer or silence the tracing (`HOSTILE`): with no key, a bad
key, a team's key and the master key, they name a second fake Langfuse (`elsewhere`) in the body or
its metadata, or ask for callbacks of their own. None may reach `elsewhere`, none is traced, and
none changes how the later calls are traced (an unauthenticated `callbacks` used to be appended to
the worker's callback lists: every later call would then be exported twice, once with the platform's
pair, which the happy-path tests would see).

The guard writes the config into the temp dir (/tmp in the container): each proxy here gets its
own TMPDIR. LiteLLM looks a `custom_auth` module up next to the config file, so the module sits in
that same directory under a per-run unique name.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest
import yaml

from renderers.litellm_proxy import render_proxy_config
from team_plane import source
from team_plane.litellm_start import GUARD_MODULE, proxy_config as joined_proxy_config, team_settings_entry
from services.specs import LITELLM_CONFIG_FILE
from renderers.team_document import parse_team_document
from tests.support.fake_bedrock import THROTTLING, VALIDATION, BedrockError, FakeBedrock, running_fake_bedrock
from tests.support.fake_langfuse import FakeLangfuse, LangfuseRequest, Span, running_fake_langfuse
from tests.support.litellm_container import (
    container_argv, container_environment, litellm_spec, with_test_additions, write_auth_module,
)
from tests.support.litellm_proxy import RunningProxy, free_port, random_master_key, running_proxy
from tests.support.moto_aws import running_loopback_aws
from tests.support.redis_server import RedisServer, running_redis_server
from tests.support.settings import make_settings

# One worker takes the module (make test: --dist loadgroup): its one proxy (the `gateway` fixture) starts once.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("team-tracing")]

TEAMS = ("home-rentals", "credit-risk", "search")
PLATFORM = "platform"  # the caller without a team
MODEL = "sonnet"  # tests.support.settings.DEFAULT_MODELS
TRACE_DEADLINE_SECONDS = 60
# Calls whose user text carries one of these are answered by the fake Bedrock with that error.
FAILURES: dict[str, BedrockError] = {"please-throttle": THROTTLING, "please-refuse": VALIDATION}
QUIET_SECONDS = 2.0  # no new export for this long after the last expected one: the SDK is done
MASTER = "master"  # the caller with the proxy's master key (no team: the platform project)
NO_KEY, BAD_KEY = None, "bad"  # callers of HOSTILE without a valid key


@dataclass(frozen=True)
class Hostile:
    label: str
    caller: str | None  # a caller's name, or NO_KEY / BAD_KEY
    body: dict  # added to the request body; "metadata" as the request's metadata

@dataclass(frozen=True)
class Caller:
    name: str  # a team, or PLATFORM
    team: str | None
    token: str  # the bearer token the test sends (custom auth maps it to the team)
    public_key: str  # the Langfuse pair its traces must arrive with
    secret_key: str


@dataclass(frozen=True)
class Call:
    caller: Caller | None  # None: a HOSTILE call without a valid key
    stream: bool
    marker: str
    status: int
    text: str  # the assistant text the client received (assembled from the chunks when streamed)
    usage: dict | None

    @property
    def label(self) -> str:
        return f"{self.caller.name}/{'stream' if self.stream else 'plain'}"


@dataclass
class Gateway:
    proxy: RunningProxy
    bedrock: FakeBedrock
    langfuse: FakeLangfuse
    callers: dict[str, Caller]
    calls: list[Call] = field(default_factory=list)
    failed: list[Call] = field(default_factory=list)  # answered by Bedrock with an error (FAILURES)
    exports: list[LangfuseRequest] = field(default_factory=list)  # OTEL requests once all arrived
    elsewhere: FakeLangfuse | None = None  # where HOSTILE callers ask the gateway to send traces
    hostile: dict[str, Call] = field(default_factory=dict)  # HOSTILE label -> what happened
    unlogged: list[Call] = field(default_factory=list)  # calls that asked for "no-log"
    master: Caller | None = None  # the proxy admin's key: no team


# --- building the container's command and environment ------------------------------------------


def hostile_calls(elsewhere: str) -> list[Hostile]:
    destination = {"langfuse_host": elsewhere, "langfuse_public_key": "pk-lf-elsewhere", "langfuse_secret_key": "sk-lf-elsewhere"}
    own_callbacks = {"callbacks": ["langfuse_otel"], "success_callback": ["langfuse"], "failure_callback": ["langfuse"]}
    return [
        Hostile("no key", NO_KEY, {"langfuse_host": elsewhere}),
        Hostile("bad key", BAD_KEY, destination),
        Hostile("bad key, metadata", BAD_KEY, {"metadata": destination}),
        Hostile("team key", TEAMS[0], destination),
        Hostile("team key, metadata", TEAMS[0], {"metadata": {"langfuse_host": elsewhere}}),
        Hostile("master key", MASTER, destination),
        Hostile("no key, own callbacks", NO_KEY, own_callbacks),
        Hostile("bad key, nothing else", BAD_KEY, {}),
    ]


def make_callers() -> dict[str, Caller]:
    callers = {}
    for name in (*TEAMS, PLATFORM):
        tag = uuid.uuid4().hex[:12]
        callers[name] = Caller(
            name=name, team=None if name == PLATFORM else name, token=random_master_key(),
            public_key=f"pk-lf-{name}-{tag}", secret_key=f"sk-lf-{name}-{tag}",
        )
    return callers


def platform_key_values(callers: dict[str, Caller]) -> dict[str, str]:
    """Variable -> value for the platform's Langfuse keys (the container's secrets)."""
    return {"LANGFUSE_PUBLIC_KEY": callers[PLATFORM].public_key, "LANGFUSE_SECRET_KEY": callers[PLATFORM].secret_key}


def team_pairs(callers: dict[str, Caller]) -> dict[str, dict[str, str]]:
    """Team -> the value of its key secret."""
    return {c.team: {"publicKey": c.public_key, "secretKey": c.secret_key} for c in callers.values() if c.team}


# --- calls and what Langfuse received ------------------------------------------------------------


def chat(proxy: RunningProxy, caller: Caller | None, *, stream: bool, ask: str = "Say hello.",
         token: str | None = None, extra: dict | None = None) -> Call:
    """`token` overrides the caller's (None and no caller: no key at all); `extra` joins the body."""
    marker = f"marker-{uuid.uuid4().hex}"
    body: dict = {"model": MODEL, "messages": [{"role": "user", "content": f"{ask} {marker}"}], **(extra or {})}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    status, raw = proxy.request("POST", "/v1/chat/completions", token or (caller and caller.token), body)
    text, usage = "", None
    if status == 200 and stream:
        lines = [line[len("data: "):] for line in raw.decode().splitlines() if line.startswith("data: ")]
        assert lines and lines[-1] == "[DONE]", raw[-500:]
        for chunk in map(json.loads, lines[:-1]):
            for choice in chunk.get("choices", []):
                text += (choice.get("delta") or {}).get("content") or ""
            usage = chunk.get("usage") or usage
    elif status == 200:
        response = json.loads(raw)
        text, usage = response["choices"][0]["message"]["content"], response.get("usage")
    else:
        text = raw.decode(errors="replace")
    return Call(caller, stream, marker, status, text, usage)


def spans_by_export(exports: list[LangfuseRequest]) -> list[tuple[LangfuseRequest, list[Span]]]:
    return [(export, export.spans()) for export in exports]


def markers_in(spans: list[Span], markers: list[str]) -> set[str]:
    return {marker for span in spans for text in span.strings() for marker in markers if marker in text}


def trace_of(call: Call, decoded: list[tuple[LangfuseRequest, list[Span]]]) -> tuple[set[str], list[LangfuseRequest]]:
    """The trace ids whose spans carry the call's marker, and every export holding any span of them."""
    trace_ids = {span.trace_id for _, spans in decoded for span in spans if any(call.marker in t for t in span.strings())}
    holding = [export for export, spans in decoded if any(span.trace_id in trace_ids for span in spans)]
    return trace_ids, holding


def wait_for_exports(langfuse: FakeLangfuse, markers: list[str]) -> list[LangfuseRequest]:
    """Poll until every marker has been exported and then no export arrived for QUIET_SECONDS."""
    deadline = time.monotonic() + TRACE_DEADLINE_SECONDS
    decoded_bodies: dict[int, set[str]] = {}
    while True:
        exports = langfuse.otel_requests()
        for index, export in enumerate(exports):
            if index not in decoded_bodies:
                decoded_bodies[index] = markers_in(export.spans(), markers)
        seen = set().union(*decoded_bodies.values()) if decoded_bodies else set()
        quiet = not exports or time.monotonic() - exports[-1].at >= QUIET_SECONDS
        if (seen >= set(markers) and quiet) or time.monotonic() >= deadline:
            return exports
        time.sleep(0.2)


# --- the one proxy of the happy paths ----------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("team-tracing")
    callers = make_callers()
    settings = make_settings(teams=[{"name": team} for team in TEAMS])
    auth_module = f"team_tracing_auth_{uuid.uuid4().hex[:8]}"
    projects = {caller.public_key: (caller.secret_key, f"project-{caller.name}") for caller in callers.values()}
    with ExitStack() as stack:
        bedrock = stack.enter_context(running_fake_bedrock(errors=FAILURES))
        langfuse = stack.enter_context(running_fake_langfuse(projects))
        elsewhere = stack.enter_context(running_fake_langfuse())
        redis = stack.enter_context(running_redis_server(workdir, random_master_key()))
        aws = stack.enter_context(running_loopback_aws())
        document_url = aws.serve_team_plane(settings, team_pairs(callers))
        proxy_config = with_test_additions(render_proxy_config(settings), bedrock_url=bedrock.url, auth_module=auth_module)
        spec = litellm_spec(settings, proxy_config, langfuse.url, document_url)
        env = {**container_environment(spec, platform_key_values(callers), redis), "TMPDIR": str(workdir),
               "AWS_ENDPOINT_URL": aws.endpoint_url}
        # The master key, as the proxy admin uses it: no team, so the platform project.
        master = Caller(MASTER, None, env["LITELLM_MASTER_KEY"], callers[PLATFORM].public_key, callers[PLATFORM].secret_key)
        tokens = {caller.token: caller.team for caller in (*callers.values(), master)}
        write_auth_module(workdir, auth_module, tokens)
        proxy = stack.enter_context(running_proxy(container_argv(spec), env, workdir))
        # The guard wrote the spec's base config plus each team's entry, where the container writes it.
        s3_document = aws.client("s3").get_object(Bucket=document_url.split("/")[2], Key=document_url.split("/", 3)[3])
        teams = parse_team_document(s3_document["Body"].read().decode())["teams"]
        written = (workdir / LITELLM_CONFIG_FILE).read_text()
        assert written == joined_proxy_config(spec.environment["LITELLM_PROXY_CONFIG"], teams)
        assert yaml.safe_load(written)["litellm_settings"]["default_team_settings"] == [
            team_settings_entry(t["name"], t["publicKeyVar"], t["secretKeyVar"]) for t in teams
        ]
        assert [t["name"] for t in teams] == sorted(TEAMS)

        # The guard (team_plane/litellm_guard.py) is written beside the config, as the config names it.
        assert (workdir / f"{GUARD_MODULE}.py").read_text() == source("litellm_guard")

        gateway = Gateway(proxy, bedrock, langfuse, callers, elsewhere=elsewhere, master=master)
        # First the callers who try to steer or silence the tracing: nothing they do may change the rest.
        for hostile in hostile_calls(elsewhere.url):
            caller = {**callers, MASTER: master}.get(hostile.caller)
            token = random_master_key() if hostile.caller == BAD_KEY else None
            gateway.hostile[hostile.label] = chat(proxy, caller, stream=False, token=token, extra=hostile.body)
        for caller in (callers[TEAMS[0]], master):
            gateway.unlogged.append(chat(proxy, caller, stream=False, extra={"no-log": True}))
        for caller in callers.values():
            for stream in (False, True):
                gateway.calls.append(chat(proxy, caller, stream=stream))
        # Then the failures, so a cooldown they may cause cannot touch the calls above.
        for trigger in FAILURES:
            gateway.failed.append(chat(proxy, callers[TEAMS[0]], stream=False, ask=f"Say hello, {trigger}."))
        expected = [call.marker for call in (*gateway.calls, *gateway.failed, *gateway.unlogged)]
        gateway.exports = wait_for_exports(langfuse, expected)
        yield gateway


CALL_IDS = [f"{name}/{mode}" for name in (*TEAMS, PLATFORM) for mode in ("plain", "stream")]


@pytest.mark.parametrize("label", CALL_IDS)
def test_call_is_answered_from_bedrock_converse(gateway, label):
    call = next(call for call in gateway.calls if call.label == label)
    assert call.status == 200, (call.text, gateway.proxy.log()[-3000:])
    assert call.text == gateway.bedrock.reply_text
    assert call.usage and call.usage["prompt_tokens"] == 12 and call.usage["completion_tokens"] == 7, call.usage

    (served,) = [c for c in gateway.bedrock.snapshot() if call.marker in c.user_text()]
    assert served.operation == ("converse-stream" if call.stream else "converse")
    assert served.model_id == "us.anthropic.claude-sonnet-4-20250514-v1:0"
    assert (served.authorization or "").startswith("AWS4-HMAC-SHA256 Credential=AKIAFAKETEAMTRACING/")


@pytest.mark.parametrize("label", CALL_IDS)
def test_call_is_traced_in_its_own_project_only(gateway, label):
    call = next(call for call in gateway.calls if call.label == label)
    decoded = spans_by_export(gateway.exports)
    trace_ids, holding = trace_of(call, decoded)

    assert trace_ids, f"{label}: marker never exported; keys seen: {sorted({e.public_key for e in gateway.exports})}"
    assert len(trace_ids) == 1, f"{label}: one call, one trace; got {trace_ids}"
    # Every export holding a span of this call's trace came with this caller's pair, none other.
    assert {(e.public_key, e.secret_key) for e in holding} == {(call.caller.public_key, call.caller.secret_key)}
    assert all(e.status == 200 and e.content_type == "application/x-protobuf" for e in holding)
    # The generation: the marked input, the answer (for a stream: assembled from its chunks), the team.
    (generation,) = [span for _, spans in decoded for span in spans if span.trace_id in trace_ids]
    attributes = generation.attributes
    assert call.marker in attributes["langfuse.observation.input"]
    assert json.loads(attributes["langfuse.observation.output"])["content"] == gateway.bedrock.reply_text
    assert attributes.get("langfuse.observation.metadata.user_api_key_team_id") == call.caller.team


@pytest.mark.parametrize("trigger", list(FAILURES))
def test_a_failed_call_is_traced_in_its_teams_project(gateway, trigger):
    """Bedrock refuses the call (throttling, validation): the client gets an error, the team a trace."""
    call = gateway.failed[list(FAILURES).index(trigger)]
    error = FAILURES[trigger]
    assert call.status >= 400 and error.message in call.text, (call.status, call.text[:500])
    assert [c.user_text() for c in gateway.bedrock.snapshot() if call.marker in c.user_text()], "Bedrock never saw the call"

    decoded = spans_by_export(gateway.exports)
    trace_ids, holding = trace_of(call, decoded)
    assert trace_ids, f"{trigger}: the failed call was never traced; keys seen: {sorted({e.public_key for e in gateway.exports})}"
    assert {(e.public_key, e.secret_key) for e in holding} == {(call.caller.public_key, call.caller.secret_key)}
    spans = [span for _, spans in decoded for span in spans if span.trace_id in trace_ids]
    assert any(span.attributes.get("langfuse.observation.level") == "ERROR" for span in spans), [s.attributes for s in spans]
    assert any(error.message in text for span in spans for text in span.strings())


def test_no_export_mixes_projects(gateway):
    """From the exports' side: each one carries a known pair and only that pair's callers' traces."""
    markers = {call.marker: call.caller for call in (*gateway.calls, *gateway.failed, *gateway.unlogged)}
    known = {(c.public_key, c.secret_key) for c in gateway.callers.values()}
    exports = gateway.exports
    assert exports
    for export, spans in spans_by_export(exports):
        assert (export.public_key, export.secret_key) in known, export.public_key
        owners = {markers[m].public_key for m in markers_in(spans, list(markers))}
        assert owners <= {export.public_key}, f"export with {export.public_key} carries traces of {owners}"
    # Four projects, four pairs: every team's and the platform's received its own traces.
    assert {e.public_key for e in exports} == {c.public_key for c in gateway.callers.values()}


def test_each_team_sdk_client_authenticates_with_its_own_pair(gateway):
    """The SDK's auth check (GET /api/public/projects) per team pair; nothing was ever refused."""
    requests = gateway.langfuse.snapshot()
    checks = {(r.public_key, r.secret_key) for r in requests if (r.method, r.path) == ("GET", "/api/public/projects")}
    teams = {(c.public_key, c.secret_key) for c in gateway.callers.values() if c.team is not None}
    # The platform's client (the global callback, env credentials) runs no auth check in 1.104.0.
    assert teams <= checks <= teams | {(gateway.callers[PLATFORM].public_key, gateway.callers[PLATFORM].secret_key)}
    assert [(r.method, r.path, r.status) for r in requests if r.status != 200] == []


# --- no caller steers or silences the tracing ----------------------------------------------------


def test_no_caller_chooses_where_the_gateway_sends_traces(gateway):
    """No key, a bad key, a team's key, the master key: `elsewhere` never hears from the gateway."""
    assert [(r.method, r.path) for r in gateway.elsewhere.snapshot()] == []


@pytest.mark.parametrize("label", [hostile.label for hostile in hostile_calls("http://unused")])
def test_a_request_refused_at_authentication_is_never_traced(gateway, label):
    """LiteLLM refuses a Langfuse host or key in a body at authentication; a refusal exports nothing."""
    call = gateway.hostile[label]
    assert call.status >= 400, (label, call.status, call.text[:300])
    assert not [c for c in gateway.bedrock.snapshot() if call.marker in c.user_text()], "Bedrock saw a refused call"
    carried = [e.public_key for e, spans in spans_by_export(gateway.exports) if markers_in(spans, [call.marker])]
    assert carried == [], f"{label}: the refused request was traced with {carried}"


@pytest.mark.parametrize("index", [0, 1], ids=["team", "master"])
def test_no_log_does_not_skip_tracing(gateway, index):
    """`"no-log": true` in the body: the call is still traced in its caller's project, and only there."""
    call = gateway.unlogged[index]
    assert call.status == 200, call.text[:300]
    trace_ids, holding = trace_of(call, spans_by_export(gateway.exports))
    assert trace_ids, f"{call.caller.name}: a no-log call was not traced"
    assert {(e.public_key, e.secret_key) for e in holding} == {(call.caller.public_key, call.caller.secret_key)}


def pass_through(gateway: Gateway, caller: Caller, probe: str) -> int:
    """GET /langfuse/<probe> as the Langfuse SDK sends it through LiteLLM: Basic auth, the key as the secret."""
    auth = base64.b64encode(f"pk-lf-any:{caller.token}".encode()).decode()
    request = urllib.request.Request(f"{gateway.proxy.url}/langfuse/api/public/{probe}", headers={"Authorization": f"Basic {auth}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_the_langfuse_pass_through_lends_a_key_without_a_team_no_pair(gateway):
    """LiteLLM's /langfuse pass-through forwards a teamless key's request with the platform project's pair
    (langfuse_endpoints.py `_get_langfuse_proxy_credentials`): the guard refuses it. A team's key never
    gets another project's pair (LiteLLM refuses to forward to the team's private Langfuse address)."""
    probes = {caller.name: f"probe-{uuid.uuid4().hex}" for caller in (gateway.master, *gateway.callers.values())}
    answers = {caller.name: pass_through(gateway, caller, probes[caller.name])
               for caller in (gateway.master, *gateway.callers.values())}
    assert answers[MASTER] == 403 and answers[PLATFORM] == 403, answers
    forwarded = {r.path.rsplit("/", 1)[-1]: (r.public_key, r.secret_key) for r in gateway.langfuse.snapshot()}
    for caller in gateway.callers.values():
        if probes[caller.name] in forwarded:
            assert forwarded[probes[caller.name]] == (caller.public_key, caller.secret_key), caller.name
    assert probes[MASTER] not in forwarded and probes[PLATFORM] not in forwarded


# --- the guard: a team without its keys never starts -----------------------------------------


def test_unreadable_team_keys_refuse_the_start(tmp_path):
    """One team's secret lacks its secret key, another's cannot be read: the proxy never starts."""
    callers = make_callers()
    settings = make_settings(teams=[{"name": team} for team in TEAMS])
    pairs = {**team_pairs(callers), "credit-risk": {"publicKey": callers["credit-risk"].public_key}, "search": None}
    unreachable = RedisServer("127.0.0.1", 9, "unused")  # the guard refuses before anything connects
    port = free_port()
    with running_loopback_aws() as aws:
        spec = litellm_spec(settings, render_proxy_config(settings), "http://127.0.0.1:9", aws.serve_team_plane(settings, pairs))
        env = {**container_environment(spec, platform_key_values(callers), unreachable), "TMPDIR": str(tmp_path),
               "AWS_ENDPOINT_URL": aws.endpoint_url}
        started = time.monotonic()
        process = subprocess.Popen(
            [*container_argv(spec), "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"the guard let the proxy start without the teams' keys:\n{(stdout + stderr)[-2000:]}")
    elapsed = time.monotonic() - started

    assert process.returncode != 0
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("llm-gateway: refusing to start LiteLLM, unreadable Langfuse keys of teams: credit-risk ("), last
    assert last.endswith(", search (ResourceNotFoundException)"), last
    assert "home-rentals" not in last
    assert stdout == ""  # litellm never ran
    assert elapsed < 10, f"the guard must fail before the proxy starts, took {elapsed:.1f}s"
    assert not (tmp_path / LITELLM_CONFIG_FILE).exists(), "the guard wrote the config although it refused to start"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "something listens on the proxy's port"
