"""Proof with the real proxy, started from the `litellm` spec as the container starts it
(tests/support/litellm_container.py), of how it serves behind the load balancer:

- it keeps idle connections for the configured keep-alive (GUNICORN_CMD_ARGS, which the start
  applies over LiteLLM's gunicorn options) and closes them after, with the timeouts scaled down
  (services/serving.py derives the shipped ones, tests/unit/test_serving.py checks them against the
  load balancer's);
- a streamed completion passes through chunk by chunk and may outlast the request timeout while
  chunks keep coming; a call close to the timeout completes; a slower one gets the proxy's own
  timeout error after one try of Bedrock, well inside the load balancer's idle timeout;
- it keeps serving past its recycling limit (MAX_REQUESTS_BEFORE_RESTART): a worker is replaced,
  the process never ends (it did under plain uvicorn with one worker), and a worker that retires
  with a slow call in flight finishes it while the other worker serves;
- what a recycle costs under concurrent load, and that the OpenAI SDK's default retries absorb it;
- gunicorn's master imports what its workers would and freezes its objects before forking them
  (team_plane/litellm_start.py), so that no worker, a replacement included, imports it again;
- a stopping proxy (SIGTERM: ECS after draining, compose's recreate) finishes its calls in flight
  and takes no new connection;
- two proxies sharing one real Redis (Debian's redis-server, started here) hold a team's rpm limit
  across both, as the 2-6 tasks of prod must (without it each task counts on its own).

What the rpm limit test proves and what it does not: the team's limit arrives on the key exactly as
LiteLLM's auth puts it there (`UserAPIKeyAuth.team_rpm_limit`, here from the test's custom auth,
as there is no database), and the v3 limiter (litellm/proxy/hooks/parallel_request_limiter_v3.py)
counts it in the shared Redis. Budgets and key revocation across tasks need LiteLLM's database
(Prisma), which cannot start here; they go through the same `coordination_redis` client (spend
counters, litellm/proxy/proxy_server.py `_attach_redis_usage_cache`), which this does not exercise.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import threading
import time
import urllib.error
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from renderers.litellm_proxy import LITELLM_REDIS_DB
from team_plane.litellm_start import WORKER_IMPORTS
from tests.support.gateway import LIMITED_TEAM, Gateway, gateway
from tests.support.load import CALL, SCALED, closed_by_server, keep_alive_load

pytestmark = pytest.mark.integration

RECYCLING_SETTING = 100  # the loader's floor; the shipped stacks use 10000
# The proxy runs with the spec's recycling limit and jitter scaled down, as its timeouts are
# (SCALED): what a recycle does is the same after 20 requests as after 10000, and each request
# costs CPU the rest of the suite runs on.
RECYCLING_SCALE = 5
RECYCLE_AFTER = RECYCLING_SETTING // RECYCLING_SCALE
RECYCLING_VARIABLES = ("MAX_REQUESTS_BEFORE_RESTART", "MAX_REQUESTS_BEFORE_RESTART_JITTER")
RPM_LIMIT = 4
MAX_PROBES = 20 * RECYCLE_AFTER  # ends a proxy that never recycles; two recycles take about 3 * RECYCLE_AFTER
RECYCLE_LOGGED = "Maximum request limit of"  # uvicorn/server.py, as a worker stops at its limit
CONCURRENCY = 8


def probe(proxy, token: str) -> int:
    """The liveness status, or 0 when nothing answers any more (the process ended)."""
    try:
        return proxy.request("GET", "/health/liveliness", token, timeout=30)[0]
    except (urllib.error.URLError, ConnectionError):
        return 0


def recycles_logged(proxy) -> int:
    return proxy.log().count(RECYCLE_LOGGED)


def recycled_since(proxy, recycles: int, seconds: float = 10) -> bool:
    """Whether more than `recycles` recycles are logged within `seconds` (a worker logs its limit as it stops)."""
    deadline = time.monotonic() + seconds
    while recycles_logged(proxy) <= recycles:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# The tests of one proxy run on one worker (make test: --dist loadgroup), so that each proxy starts once.
ON_SCALED = pytest.mark.xdist_group("litellm-serving-scaled")
ON_RECYCLING = pytest.mark.xdist_group("litellm-serving-recycling")


@pytest.fixture(scope="module")
def scaled(tmp_path_factory) -> Iterator[Gateway]:
    """The proxy with every timeout scaled down (SCALED), with a team held to RPM_LIMIT calls a minute."""
    with gateway(tmp_path_factory.mktemp("scaled"), SCALED, limited_team_rpm=RPM_LIMIT) as running:
        yield running


def scaled_recycling(argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The recycling limit scaled down; and every import the proxy's processes make written to its
    log (Python's -X importtime), to tell the master's imports from the workers'."""
    return argv, {**env, **{name: str(max(1, int(env[name]) // RECYCLING_SCALE)) for name in RECYCLING_VARIABLES},
                  "PYTHONPROFILEIMPORTTIME": "1"}


def imported(log: str) -> set[str]:
    """The modules a `-X importtime` log shows imported: `import time: <self> | <cumulative> | <name>`."""
    return {line.rsplit("|", 1)[1].strip() for line in log.splitlines() if line.startswith("import time:") and "|" in line}


@pytest.fixture(scope="module")
def recycling(tmp_path_factory) -> Iterator[Gateway]:
    """The proxy as shipped but for its recycling limit, scaled to RECYCLE_AFTER requests."""
    with gateway(tmp_path_factory.mktemp("recycling"), started=scaled_recycling,
                 maxRequestsBeforeRestart=RECYCLING_SETTING) as running:
        yield running


@ON_SCALED
def test_an_idle_connection_is_kept_for_the_configured_keep_alive_and_closed_after(scaled):
    """What the load balancer does with its pooled connections: reuse one after an idle while."""
    assert f"--keep-alive {SCALED.keep_alive} " in scaled.spec_environment["GUNICORN_CMD_ARGS"]
    parts = urlsplit(scaled.proxy.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)

    def served() -> bool:
        connection.request("GET", "/health/liveliness")
        response = connection.getresponse()
        response.read()
        return response.status == 200 and not response.will_close

    try:
        assert served()
        threading.Event().wait(SCALED.keep_alive - 1)  # idle just below the keep-alive
        assert not closed_by_server(connection.sock), "closed before its keep-alive"
        assert served()
        assert closed_by_server(connection.sock, within=SCALED.keep_alive + 2), "still open after its keep-alive"
    finally:
        connection.close()


def sse_events(response: http.client.HTTPResponse) -> Iterator[str]:
    for line in response:
        if line.startswith(b"data: "):
            yield line[len(b"data: "):].decode().strip()


@ON_SCALED
def test_a_streamed_call_arrives_chunk_by_chunk_and_may_outlast_the_request_timeout(scaled):
    bedrock = scaled.bedrock
    bedrock.chunk_interval_seconds = SCALED.request / 4  # each gap well inside the timeout...
    try:
        before = bedrock.streamed_messages
        response = scaled.call({**CALL, "stream": True})
        assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")
        texts, streamed_when_first_arrived = [], None
        for event in sse_events(response):
            if event == "[DONE]":
                break
            delta = json.loads(event)["choices"][0]["delta"].get("content")
            if delta:
                if streamed_when_first_arrived is None:
                    streamed_when_first_arrived = bedrock.streamed_messages - before
                texts.append(delta)
    finally:
        bedrock.chunk_interval_seconds = 0
    total = bedrock.streamed_messages - before
    assert "".join(texts) == bedrock.reply_text
    assert (total - 1) * SCALED.request / 4 > SCALED.request  # ...the whole stream longer than it
    # Unbuffered: the first text reached the client while Bedrock had most of the stream to send.
    assert streamed_when_first_arrived is not None and streamed_when_first_arrived < total - 2, (
        streamed_when_first_arrived, total)


@ON_SCALED
def test_a_call_close_to_the_request_timeout_completes(scaled):
    scaled.bedrock.reply_delay_seconds = SCALED.request - 1
    try:
        response = scaled.call(CALL)
        assert response.status == 200, response.read()
        assert json.loads(response.read())["choices"][0]["message"]["content"] == scaled.bedrock.reply_text
    finally:
        scaled.bedrock.reply_delay_seconds = 0


@ON_SCALED
def test_a_call_slower_than_the_timeout_gets_the_proxys_timeout_error_after_one_try(scaled):
    """Not a connection the load balancer drops: the proxy answers 408 itself, and tries Bedrock once
    (the router would try a timed-out call twice more, tripling the wait past the load balancer's)."""
    bedrock = scaled.bedrock
    calls_before = len(bedrock.snapshot())
    bedrock.reply_delay_seconds = SCALED.request + SCALED.margin
    try:
        response = scaled.call(CALL)
        body = response.read()
    finally:
        bedrock.reply_delay_seconds = 0
    assert response.status == 408, body
    assert "litellm.Timeout" in json.loads(body)["error"]["message"]
    assert len(bedrock.snapshot()) - calls_before == 1


@ON_RECYCLING
def test_the_proxy_keeps_serving_past_its_recycling_limit_and_finishes_a_slow_call_in_flight(recycling):
    proxy, token = recycling.proxy, recycling.token
    assert int(recycling.spec_environment["NUM_WORKERS"]) >= 2
    assert recycling.spec_environment["MAX_REQUESTS_BEFORE_RESTART"] == str(RECYCLING_SETTING)
    # A slow call in flight while the workers recycle: the worker holding it retires only when it ends.
    # Bedrock holds it back up to 15 s, and lets it go once the probes are done.
    recycling.bedrock.reply_delay_seconds = 15
    slow: dict = {}
    slow_call = threading.Thread(target=lambda: slow.update(response=recycling.call(CALL, timeout=120)))
    calls_before = len(recycling.bedrock.snapshot())
    slow_call.start()
    try:
        while len(recycling.bedrock.snapshot()) == calls_before:  # the slow call is in a worker
            threading.Event().wait(0.05)
        # Probe until a worker has been replaced twice (health probes alone get there in
        # production). Not a fixed count: uvicorn checks the limit on a 0.1 s tick
        # (uvicorn/server.py on_tick), so a worker serves whatever arrives in that tick on top of
        # its limit. The retiring worker logs the recycle as it begins to retire.
        recycles_before = recycles_logged(proxy)
        statuses = []
        while recycles_logged(proxy) < recycles_before + 2 and len(statuses) < MAX_PROBES:
            statuses.extend(probe(proxy, token) for _ in range(RECYCLE_AFTER // 10))
        statuses.extend(probe(proxy, token) for _ in range(RECYCLE_AFTER // 4))
        # Served meanwhile: with one worker every probe after the recycle waited for the slow call.
        still_in_flight = slow_call.is_alive()
        recycling.bedrock.release_held()
    finally:
        slow_call.join()
        recycling.bedrock.reply_delay_seconds = 0
    log = proxy.log()
    assert recycles_logged(proxy) >= recycles_before + 2, f"{len(statuses)} probes, fewer than two recycles:\n{log[-3000:]}"
    assert proxy.process.poll() is None, f"the proxy process ended ({proxy.process.returncode}):\n{log[-3000:]}"
    assert still_in_flight, "the probes waited for the slow call: no worker served while one retired"
    assert slow["response"].status == 200, slow["response"].read()
    assert json.loads(slow["response"].read())["choices"][0]["message"]["content"] == recycling.bedrock.reply_text
    # What a recycle costs a probe on a fresh connection: the one the retiring worker had just
    # accepted but not read is reset (Kludex/uvicorn#3124, closed unmerged); the next worker takes
    # the rest from the master's socket.
    lost = [i for i, status in enumerate(statuses) if status != 200]
    assert set(statuses) <= {200, 0} and len(lost) <= recycles_logged(proxy) - recycles_before, lost


@ON_RECYCLING
def test_a_recycle_under_load_fails_at_most_the_calls_arriving_on_the_workers_connections(recycling):
    """Each recycle closes the retiring worker's connections: a call that was on its way on one of
    them at that moment fails (uvicorn closes a connection between two requests unread,
    uvicorn/server.py `shutdown`; upstream discussion Kludex/uvicorn#2315). So at most one failed
    call per open connection and recycle: README "Known limits"."""
    proxy = recycling.proxy
    recycles_before = recycles_logged(proxy)
    result = keep_alive_load(proxy.url, recycling.token, concurrency=CONCURRENCY, calls=12 * RECYCLE_AFTER,
                             keep_going=lambda: recycles_logged(proxy) < recycles_before + 2)
    recycles = recycles_logged(proxy) - recycles_before
    assert recycles >= 2, (result, proxy.log()[-3000:])
    assert set(result.statuses) == {200}, result
    assert sum(result.errors.values()) <= CONCURRENCY * recycles, (result, recycles)


@ON_RECYCLING
def test_the_openai_sdk_retries_what_a_recycle_resets(recycling):
    """The OpenAI SDK retries a call that got no answer (and 408, 409, 429, 5xx) twice by default
    (openai/_base_client.py: `_retry_request` on any exception but its own, `_should_retry`;
    DEFAULT_MAX_RETRIES = 2 in openai/_constants.py): under the same load, no call fails."""
    import openai  # here, not at the top: every test process collects this module, and the SDK takes a second to import

    proxy = recycling.proxy
    retried, failed, lock = [], [], threading.Lock()

    def note_retry(request: httpx.Request) -> None:
        if request.headers.get("x-stainless-retry-count", "0") != "0":
            with lock:
                retried.append(request.headers["x-stainless-retry-count"])

    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=recycling.token,
                           http_client=httpx.Client(event_hooks={"request": [note_retry]}))
    recycles_before = recycles_logged(proxy)

    def calls() -> None:
        while recycles_logged(proxy) < recycles_before + 2 and not failed:
            try:
                client.chat.completions.create(**CALL)
            except openai.OpenAIError as error:
                failed.append(repr(error))

    threads = [threading.Thread(target=calls) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recycles_logged(proxy) >= recycles_before + 2
    assert not failed, (failed, retried)


# What a worker still imports at its start and first calls, at most (modules): uvicorn's loop and
# protocols and a few of LiteLLM's, 64 a worker with LiteLLM 1.104.0, against 353 before the master
# imported WORKER_IMPORTS for them.
WORKER_IMPORTS_AT_MOST = 100


@ON_RECYCLING
def test_the_master_imports_and_freezes_what_its_workers_and_their_replacements_share(recycling):
    """Before gunicorn's master forks the workers it imports what they would at their start or
    first call (team_plane/litellm_start.py, WORKER_IMPORTS), none of it missing from the pinned
    LiteLLM, and freezes its objects for them (gc.freeze), its collector on again for them: the
    workers, first or replacement, serving calls import little of their own."""
    proxy = recycling.proxy
    recycles_before = recycles_logged(proxy)
    for _ in range(MAX_PROBES):  # a probe may meet a recycle (test above): not counted
        if recycles_logged(proxy) > recycles_before:
            break
        probe(proxy, recycling.token)
    assert recycles_logged(proxy) > recycles_before, proxy.log()[-3000:]
    served = 0
    while served < 4 * int(recycling.spec_environment["NUM_WORKERS"]):  # fresh connections, over the workers
        recycles = recycles_logged(proxy)
        try:
            response = recycling.call(CALL)
            status, body = response.status, response.read()
        except ConnectionError:  # a recycle may fail a call per connection (README), and only a recycle
            assert recycled_since(proxy, recycles), proxy.log()[-3000:]
            continue
        assert status == 200, body
        served += 1
    log = proxy.log()
    in_master, booted, in_workers = log.partition("Booting worker")
    assert booted
    assert set(WORKER_IMPORTS) <= imported(in_master), sorted(set(WORKER_IMPORTS) - imported(in_master))
    frozen = re.findall(r"llm-gateway: (\d+) objects frozen before forking the workers, collector enabled: (\w+)", in_master)
    assert len(frozen) == 1 and int(frozen[0][0]) > 0 and frozen[0][1] == "True", in_master[-3000:]
    workers = log.count("Booting worker")
    imports = [line for line in in_workers.splitlines() if line.startswith("import time:")]
    assert len(imports) <= WORKER_IMPORTS_AT_MOST * workers, (workers, sorted(imported(in_workers)))


@ON_SCALED
def test_a_team_rpm_limit_holds_across_two_proxies_sharing_one_redis(scaled, tmp_path):
    """A second task beside the scaled proxy, sharing its Redis (and all else): the team's limit
    holds across both."""
    calls_before = len(scaled.bedrock.snapshot())
    with scaled.another_task(tmp_path) as second:
        proxies = (scaled.proxy, second)
        statuses = []
        for i in range(2 * RPM_LIMIT):  # alternate: each task alone would let RPM_LIMIT through
            status, _ = proxies[i % 2].request("POST", "/v1/chat/completions", scaled.limited_token, {
                "model": "sonnet", "messages": [{"role": "user", "content": f"call {i}"}],
            })
            statuses.append(status)
        logs = "\n".join(proxy.log()[-2000:] for proxy in proxies)
    assert statuses.count(200) == RPM_LIMIT, (statuses, logs)
    assert statuses.count(429) == RPM_LIMIT, (statuses, logs)
    assert len(scaled.bedrock.snapshot()) - calls_before == RPM_LIMIT  # the refused calls never reached Bedrock
    # The counters live in LiteLLM's own database of the shared Redis, none in Langfuse's (0).
    redis = scaled.redis
    team_keys = [k for k in redis.client(LITELLM_REDIS_DB).keys("*") if f"team:{LIMITED_TEAM}" in k]
    assert team_keys, redis.client(LITELLM_REDIS_DB).keys("*")
    assert redis.client(0).keys("*") == []


@ON_SCALED
def test_a_stopping_proxy_finishes_its_calls_in_flight_and_takes_no_new_connection(scaled, request):
    """SIGTERM, as ECS sends it after draining the task and compose when it recreates the container:
    gunicorn's master closes the listening socket, its workers finish what they serve (up to
    `--graceful-timeout`, SCALED.graceful_stop here), then it exits. It stops the scaled proxy, so
    it runs after every other test of it (pytest runs a module's tests in file order, and their
    xdist group on one worker)."""
    items = request.session.items
    later = [item.nodeid for item in items[items.index(request.node) + 1:] if "scaled" in item.fixturenames]
    assert not later, f"run after the tests that still need the scaled proxy: {later}"
    bedrock = scaled.bedrock
    bedrock.reply_delay_seconds = SCALED.graceful_stop / 2
    slow: dict = {}
    slow_call = threading.Thread(target=lambda: slow.update(response=scaled.call(CALL)))
    calls_before = len(bedrock.snapshot())
    slow_call.start()
    try:
        while len(bedrock.snapshot()) == calls_before:
            assert slow_call.is_alive(), "the call ended before it reached Bedrock"
            threading.Event().wait(0.05)
        scaled.proxy.process.send_signal(signal.SIGTERM)
        parts = urlsplit(scaled.proxy.url)
        for _ in range(int(SCALED.graceful_stop / 0.05)):  # the master and workers close their copies of the socket
            try:
                socket.create_connection((parts.hostname, parts.port), timeout=5).close()
            except ConnectionRefusedError:
                break
            threading.Event().wait(0.05)
        else:
            raise AssertionError("the stopping proxy still takes connections")
        refused_while_serving = slow_call.is_alive()
    finally:
        slow_call.join()
        bedrock.reply_delay_seconds = 0
    assert refused_while_serving
    assert slow["response"].status == 200, slow["response"].read()
    assert scaled.proxy.process.wait(timeout=60) == 0
