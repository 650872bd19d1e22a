"""The smoke step: proof that each team's call is traced in that team's own Langfuse project, run
inside the VPC after the team plane (the `smoke` step of the job entry, team_plane/job.py).

Per team of the document, with the master key, LiteLLM's admin API and the team's own Langfuse pair:
1. a short-lived key of the team (/key/generate: a value of ours, `duration` SMOKE_KEY_DURATION, a tiny
   positive budget, since LiteLLM refuses a call once `spend >= max_budget` and a budget of 0 would
   refuse the first (auth_checks.py); only the team's cheapest chat model, chosen by the deploy);
2. one call with it (`max_tokens: 1`) carrying a unique marker as the Langfuse trace id:
   `metadata.trace_id` of 32 hex digits is the trace's id as is (litellm/integrations/langfuse/
   langfuse_sdk.py `resolve_trace_id`), and no proxy rule bans it from a request (auth_utils.py);
3. the key deleted (whatever the call did; it also expires on its own);
4. Langfuse's public API polled with the team's pair until the trace is there, within the step's
   deadline. Langfuse v4's default write mode (`events_only`, web/src/env.mjs) answers 404 for every
   `/api/public/traces` request (createAuthedProjectAPIRoute.ts `rejectInEventsOnlyMode`); its
   observations API v2 reads the events table the OTel ingestion writes directly
   (web/src/pages/api/public/v2/observations/index.ts: 200 with `data: []` until then). Should v2
   answer 404 (a deployment without the v4 read path), the trace is looked up by id the v3 way.
   A project key reads its own project only (`auth.scope.projectId`): a trace found with the team's
   pair is in the team's project.

The calls run a few teams at a time; the polling then waits for all of them together. The step
prints one line per team (passed, failed with the reason, or skipped) and exits 1 when any failed.
No key value is ever printed: the smoke key and the master key are redacted from every error.
"""

from __future__ import annotations

import base64
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from team_plane.document import parse_team_document
from team_plane.http import Deadline, JsonApiClient
from team_plane.litellm import MANAGED_BY, MANAGED_BY_KEY, LiteLLMAdminClient, LiteLLMAdminError, redact
from team_plane.litellm_keys import SMOKE_KEY, token_hash

SMOKE_KEY_DURATION = "10m"
SMOKE_MAX_BUDGET_USD = 0.01  # one call of max_tokens 1 costs a ten-thousandth of it on Bedrock's priciest chat models
CALLS_AT_ONCE = 8
POLL_INTERVAL_SECONDS = 3.0
OBSERVATIONS_PATH = "/api/public/v2/observations"
TRACE_PATH = "/api/public/traces/"
CHAT_PATH = "/v1/chat/completions"
TRACE_NAME = "llm-gateway smoke"
PROMPT = "Reply with one word."


@dataclass
class Smoke:
    team: str
    marker: str = ""
    model: str | None = None
    public_key: str = ""
    secret_key: str = ""
    status: str = "pending"  # pending (called, trace not seen yet) | passed | failed | skipped
    detail: str = ""
    called_at: float = 0.0
    last_answer: str = "no answer yet"

    def line(self) -> str:
        return f"team {self.team}: smoke {self.status} ({self.detail})"


def _team_budget_spent(team: str, body: Any) -> bool:
    """LiteLLM refused the call because the team's own budget is spent (auth_checks.py)."""
    return f"Budget has been exceeded! Team={team} " in str(body)


def smoke_key(team: str, marker: str, model: str, value: str) -> dict[str, Any]:
    """The /key/generate body of a team's smoke key."""
    return {"key": value, "team_id": team, "key_alias": f"llm-gateway/{team}/smoke/{marker[:8]}", "models": [model],
            "max_budget": SMOKE_MAX_BUDGET_USD, "duration": SMOKE_KEY_DURATION,
            "metadata": {MANAGED_BY_KEY: MANAGED_BY, SMOKE_KEY: marker}}


def call_once(client: LiteLLMAdminClient, options: Mapping[str, Any], smoke: Smoke, clock: Callable[[], float]) -> None:
    """Steps 1-3 for one team; sets the smoke's status when it is decided already."""
    value = "sk-" + secrets.token_hex(24)
    client.hide(value)
    hashed = token_hash(value)
    try:
        client.generate_key(smoke_key(smoke.team, smoke.marker, smoke.model, value))
    except LiteLLMAdminError as error:
        smoke.status, smoke.detail = "failed", f"cannot make a smoke key: {error}"
        return
    try:
        caller = JsonApiClient(client.proxy_url, {"Authorization": f"Bearer {value}"}, unreachable=_unreachable,
                               **options)
        response = caller.send("POST", CHAT_PATH, {
            "model": smoke.model, "max_tokens": 1, "messages": [{"role": "user", "content": PROMPT}],
            "metadata": {"trace_id": smoke.marker, "trace_name": TRACE_NAME},
        })
        smoke.called_at = clock()
        if response.status == 200:
            smoke.detail = f"{smoke.model} answered"
        elif _team_budget_spent(smoke.team, response.body):
            smoke.status, smoke.detail = "skipped", "the team's budget is spent: LiteLLM refuses its calls"
        else:
            said = response.body_for_error(lambda text: redact(text, value))
            smoke.status, smoke.detail = "failed", f"the call to {smoke.model} failed with HTTP {response.status}: {said}"
    except Exception as error:  # noqa: BLE001 (anything that ends the call fails this team only)
        smoke.status, smoke.detail = "failed", f"the call to {smoke.model} failed: {redact(str(error), value)}"
    finally:
        try:
            client.delete_keys([hashed])
        except LiteLLMAdminError as error:
            smoke.detail += f"; its key was not deleted ({error}), it expires within {SMOKE_KEY_DURATION}"


def _unreachable(method: str, path: str, reason: str, attempts: int) -> Exception:
    return ConnectionError(f"{method} {path}: {reason}; {attempts} attempts")


class TraceLookup:
    """Langfuse's public API with one team's pair: is the marker's trace there yet?"""

    def __init__(self, langfuse_url: str, options: Mapping[str, Any]):
        self._url = langfuse_url.rstrip("/")
        self._options = {**options, "retry_delays": ()}  # the poll itself retries

    def poll(self, smoke: Smoke) -> str | None:
        """The project the trace is in; None while it is not there (the answer kept in `last_answer`)."""
        auth = base64.b64encode(f"{smoke.public_key}:{smoke.secret_key}".encode()).decode()
        client = JsonApiClient(self._url, {"Authorization": f"Basic {auth}"}, unreachable=_unreachable, **self._options)
        query = urllib.parse.urlencode({"traceId": smoke.marker, "fields": "core", "limit": 1})
        response = client.send("GET", f"{OBSERVATIONS_PATH}?{query}")
        if response.status == 200:
            data = response.body.get("data") if isinstance(response.body, dict) else None
            if data:
                return data[0].get("projectId")
            smoke.last_answer = f"{OBSERVATIONS_PATH}: HTTP 200 without an observation of the trace"
            return None
        if response.status == 404:  # no v4 read path: the trace by id
            legacy = client.send("GET", TRACE_PATH + smoke.marker)
            if legacy.status == 200 and isinstance(legacy.body, dict):
                return legacy.body.get("projectId") or "its project"
            smoke.last_answer = f"{OBSERVATIONS_PATH}: HTTP 404; {TRACE_PATH}<id>: HTTP {legacy.status}"
            return None
        if response.status in (401, 403):
            raise PermissionError(f"Langfuse refused the team's key pair (HTTP {response.status})")
        smoke.last_answer = f"{OBSERVATIONS_PATH}: HTTP {response.status}"
        return None


def run_smoke(env: Mapping[str, str], read: Callable[[str], str], fetch: Callable[[str, str], Mapping[str, str]],
              deadline: Deadline, options: Mapping[str, Any], sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic) -> list[Smoke]:
    """Every team's smoke, in the document's order. `options`: the HTTP clients' timeout, retry
    delays, sleep and deadline."""
    document = parse_team_document(read(env["LLM_GATEWAY_TEAM_DOCUMENT"]))
    client = LiteLLMAdminClient(env["LITELLM_INTERNAL_URL"], env["LITELLM_MASTER_KEY"],
                                unreachable_hint="the smoke step reaches it on its internal address", **options)
    smokes = []
    for team in document["teams"]:
        smoke = Smoke(team["name"], marker=uuid.uuid4().hex, model=team.get("smokeModel"))
        smokes.append(smoke)
        if smoke.model is None:
            smoke.status, smoke.detail = "skipped", "the team has no chat model"
            continue
        try:
            pair = fetch(team["keySecretArn"], team["keySecretVersion"])
            smoke.public_key, smoke.secret_key = pair["publicKey"], pair["secretKey"]
        except Exception as error:  # noqa: BLE001 (one team's secret fails that team only)
            smoke.status, smoke.detail = "failed", f"cannot read its Langfuse key secret: {type(error).__name__}: {error}"
    calling = [smoke for smoke in smokes if smoke.status == "pending"]
    with ThreadPoolExecutor(max_workers=CALLS_AT_ONCE) as pool:
        list(pool.map(lambda smoke: call_once(client, options, smoke, clock), calling))
    lookup = TraceLookup(env["LANGFUSE_INTERNAL_URL"], options)
    while True:
        waiting = [smoke for smoke in smokes if smoke.status == "pending"]
        for smoke in waiting:
            try:
                project = lookup.poll(smoke)
            except (PermissionError, ConnectionError) as error:
                smoke.last_answer = str(error)
                if isinstance(error, PermissionError):
                    smoke.status, smoke.detail = "failed", str(error)
                continue
            if project is not None:
                seconds = clock() - smoke.called_at
                smoke.status = "passed"
                smoke.detail += f"; trace {smoke.marker} in Langfuse project {project} after {seconds:.0f} s"
        waiting = [smoke for smoke in smokes if smoke.status == "pending"]
        if not waiting:
            return smokes
        if deadline.remaining() <= POLL_INTERVAL_SECONDS:
            for smoke in waiting:
                seconds = clock() - smoke.called_at
                smoke.status = "failed"
                smoke.detail += (f"; no trace {smoke.marker} in the team's Langfuse project within {seconds:.0f} s "
                                 f"(last answer: {smoke.last_answer})")
            return smokes
        sleep(POLL_INTERVAL_SECONDS)
