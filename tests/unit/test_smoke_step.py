"""The smoke step's judgement (team_plane/smoke.py) against the fakes: the admin API built from the
pinned proxy's source, a chat endpoint answering as LiteLLM does, and Langfuse's read API
(tests/support/fake_langfuse_reads.py). Its end-to-end proof with the real proxy is
tests/integration/test_smoke.py."""

from __future__ import annotations

import json
from contextlib import ExitStack

from team_plane.document import DOCUMENT_VERSION
from team_plane.http import Deadline
from team_plane.smoke import POLL_INTERVAL_SECONDS, Smoke, TraceLookup, run_smoke
from tests.support.clock import FakeClock
from tests.support.fake_langfuse_reads import ReadableLangfuse, _ReadHandler
from tests.support.fake_litellm_admin import running_fake_admin
from tests.support.litellm_proxy import random_master_key
from tests.support.loopback import LoopbackHandler, serving
from tests.support.loopback_router import routing

MASTER = random_master_key()
OPTIONS = {"timeout_seconds": 5.0, "retry_delays": (), "sleep": lambda _s: None}


class Chat:
    """LiteLLM's chat route as the smoke meets it (a test replaces how it answers): the bodies it got."""

    def __init__(self):
        self.bodies, self.url = [], ""


class _ChatHandler(LoopbackHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.fake.bodies.append((self.headers.get("Authorization"), self.read_json()))
        self.reply(200, {"choices": [{"message": {"content": "ok"}}]})


def document(*teams: str, model: str | None = "sonnet") -> str:
    return json.dumps({"version": DOCUMENT_VERSION, "teams": [
        {"name": team, "keySecretArn": f"arn-{team}", "keySecretVersion": f"v-{team}", "smokeModel": model}
        for team in teams]})


def fetch(_arn: str, version: str) -> dict[str, str]:
    team = version.removeprefix("v-")
    return {"publicKey": f"pk-lf-{team}", "secretKey": f"sk-lf-secret-{team}"}


def smoke(text: str, langfuse_projects=None, clock=None, seconds=60.0, langfuse_class=ReadableLangfuse):
    """run_smoke with LiteLLM at one address (admin routes to the fake admin, calls to the chat fake)."""
    clock = clock or FakeClock()
    with ExitStack() as stack:
        admin = stack.enter_context(running_fake_admin(MASTER))
        chat = stack.enter_context(serving(Chat(), _ChatHandler))
        litellm = stack.enter_context(routing([("/key/", admin.url)], default=chat.url))
        projects = langfuse_projects if langfuse_projects is not None else {"pk-lf-alpha": ("sk-lf-secret-alpha", "alpha")}
        langfuse = stack.enter_context(serving(langfuse_class(projects=projects), _ReadHandler))
        env = {"LLM_GATEWAY_TEAM_DOCUMENT": "s3://b/d", "LITELLM_INTERNAL_URL": litellm.url, "LITELLM_MASTER_KEY": MASTER,
               "LANGFUSE_INTERNAL_URL": langfuse.url}
        deadline = Deadline(seconds, clock=clock.monotonic)
        results = run_smoke(env, lambda _l: text, fetch, deadline, {**OPTIONS, "deadline": deadline},
                            sleep=clock.sleep, clock=clock.monotonic)
        return results, admin, chat, langfuse


def test_a_refused_call_fails_the_team_with_the_answer_and_no_key(monkeypatch):
    monkeypatch.setattr(_ChatHandler, "do_POST", _refusing)
    (result,), admin, chat, _ = smoke(document("alpha"))

    (key,) = [r.body["key"] for r in admin.requests if r.path == "/key/generate"]
    assert result.status == "failed" and "failed with HTTP 400" in result.detail
    assert key not in result.line() and key[-4:] not in result.line()
    assert not admin.keys  # deleted whatever the call did
    assert chat.bodies[0][1]["max_tokens"] == 1 and chat.bodies[0][1]["model"] == "sonnet"


def _refusing(handler) -> None:
    body = handler.read_json()
    token = handler.headers.get("Authorization").removeprefix("Bearer ")
    handler.fake.bodies.append((token, body))
    handler.reply(400, {"error": {"message": f"bad request for key sk-...{token[-4:]} ({token})", "code": "400"}})


def test_a_spent_team_budget_is_skipped_not_failed(monkeypatch):
    def spent(handler) -> None:
        handler.read_json()
        handler.reply(422, {"error": {"message": "Budget has been exceeded! Team=alpha Current cost: 10.0, Max budget: 10.0",
                                      "type": "budget_exceeded", "code": "422"}})
    monkeypatch.setattr(_ChatHandler, "do_POST", spent)

    (result,), *_ = smoke(document("alpha"))

    assert (result.status, result.detail) == ("skipped", "the team's budget is spent: LiteLLM refuses its calls")


def test_no_trace_fails_at_the_deadline_whatever_the_team_count():
    clock = FakeClock()
    teams = [f"team-{i:02d}" for i in range(30)]
    projects = {f"pk-lf-{t}": (f"sk-lf-secret-{t}", t) for t in teams}

    results, *_ = smoke(document(*teams), langfuse_projects=projects, clock=clock, seconds=12.0)

    assert {r.status for r in results} == {"failed"}
    assert clock.now - 1000.0 <= 12.0
    assert all("no trace " in r.detail and "HTTP 200 without an observation" in r.detail for r in results)


def test_a_team_without_a_chat_model_is_skipped_and_a_refused_pair_fails():
    results, admin, _, _ = smoke(document("alpha", model=None))
    assert [(r.status, r.detail) for r in results] == [("skipped", "the team has no chat model")]
    assert not [r for r in admin.requests if r.path == "/key/generate"]

    (result,), *_ = smoke(document("alpha"), langfuse_projects={"pk-lf-other": ("x", "other")})
    assert (result.status, result.detail) == ("failed", "Langfuse refused the team's key pair (HTTP 401)")


def test_the_trace_by_id_is_read_where_observations_v2_is_absent():
    class V3(ReadableLangfuse):
        def read(self, path, query, public_key, secret_key):
            if path.startswith("/api/public/v2/"):
                return 404, {"message": "The observations v2 API is only available in a Langfuse v4 write mode."}
            if path.startswith("/api/public/traces/") and self.authorize(public_key, secret_key):
                return 200, {"id": path.rsplit("/", 1)[1], "projectId": "alpha"}
            return super().read(path, query, public_key, secret_key)

    with serving(V3(projects={"pk-lf-alpha": ("sk-lf-secret-alpha", "alpha")}), _ReadHandler) as langfuse:
        found = TraceLookup(langfuse.url, OPTIONS).poll(Smoke("alpha", marker="ab" * 16, public_key="pk-lf-alpha",
                                                              secret_key="sk-lf-secret-alpha"))
    assert found == "alpha"


def test_a_trace_that_shows_up_later_passes_after_polling():
    class Later(ReadableLangfuse):
        polls = 0

        def read(self, path, query, public_key, secret_key):
            if path == "/api/public/v2/observations" and self.authorize(public_key, secret_key):
                Later.polls += 1
                data = [{"id": "o", "traceId": query["traceId"][0], "projectId": "alpha"}] if Later.polls == 3 else []
                return 200, {"data": data, "meta": {}}
            return super().read(path, query, public_key, secret_key)

    clock = FakeClock()
    (result,), _, chat, _ = smoke(document("alpha"), clock=clock, langfuse_class=Later)

    assert result.status == "passed" and f"trace {result.marker} in Langfuse project alpha after 6 s" in result.detail
    assert clock.sleeps == [POLL_INTERVAL_SECONDS, POLL_INTERVAL_SECONDS]
    (token, body), = chat.bodies
    assert body["metadata"] == {"trace_id": result.marker, "trace_name": "llm-gateway smoke"}
    assert len(result.marker) == 32 and int(result.marker, 16) >= 0
