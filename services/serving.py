"""Every timeout between a client and Bedrock, derived from how long one call may take.

A call goes client -> load balancer -> LiteLLM (gunicorn master, uvicorn worker) -> Bedrock. Each
hop closes what it holds after its own timeout; when they disagree, clients see errors no log
explains. So they are derived here from two numbers, and every renderer (the proxy config, the
containers' environment and stop timeouts, the load balancer) reads them from one `ServingTimeouts`:

- `request`: LiteLLM gives up on a Bedrock call after this (the router's `timeout`, and the wait
  for each chunk of a stream) and answers 408 itself, without retrying the timed-out call.
- `load_balancer_idle`: the load balancer's idle timeout, longer than `request`, so the proxy's own
  timeout error reaches the client before the load balancer gives up on a silent target.
- `keep_alive`: how long LiteLLM and Langfuse web keep an idle connection, longer than the load
  balancer's idle timeout. The load balancer reuses idle connections to its targets; a target that
  closes one first races the next request on it, which the client gets as a 502 (Elastic Load
  Balancing, Application Load Balancers guide, "Troubleshoot": HTTP 502 "The target closed the
  connection with a TCP RST or a TCP FIN while the load balancer had an outstanding request to the
  target. Check whether the keep-alive duration of the target is shorter than the idle timeout value
  of the load balancer").
- `worker_silence`: gunicorn's `--timeout`. With uvicorn workers it bounds no request: a worker
  whose event loop runs notifies the master every `timeout / 2`. But a worker retiring at its
  request limit stops notifying while it waits for its calls in flight (uvicorn/server.py:
  `on_tick` calls `callback_notify`; `shutdown` does not), and the master kills it `timeout` after
  its last notification (gunicorn/arbiter.py `murder_workers`), so at least `timeout / 2` after it
  began to retire. Twice the load balancer's idle timeout lets a call that started just before the
  recycle run until the load balancer would end it anyway.
- `stop`: how long a stopping container has (ECS `stopTimeout`, compose's stop grace period): on
  Fargate at most 120 s (Amazon ECS API reference, ContainerDefinition `stopTimeout`).
  `graceful_stop`: gunicorn's `--graceful-timeout`, what its master gives the workers' calls in
  flight after SIGTERM, ending them itself `stop_margin` before Docker's SIGKILL would.
- `draining`: the target group's deregistration delay: a task leaving (a rollout, a scale-in, a
  replacement) keeps its calls in flight this long while the load balancer sends it nothing new;
  ECS sends SIGTERM after it.
"""

from __future__ import annotations

from dataclasses import dataclass

FARGATE_MAX_STOP_SECONDS = 120


@dataclass(frozen=True)
class ServingTimeouts:
    request: int
    margin: int  # between each hop's timeout and the next one's
    stop: int = FARGATE_MAX_STOP_SECONDS
    stop_margin: int = 10

    @property
    def load_balancer_idle(self) -> int:
        return self.request + self.margin

    @property
    def keep_alive(self) -> int:
        return self.load_balancer_idle + self.margin

    @property
    def worker_silence(self) -> int:
        return 2 * self.load_balancer_idle

    @property
    def graceful_stop(self) -> int:
        return self.stop - self.stop_margin

    @property
    def draining(self) -> int:
        return self.load_balancer_idle


# Long completions and streams: ten minutes a call, a minute between hops (the load balancer idles
# out at 660 s, the targets keep connections for 720 s).
SERVING = ServingTimeouts(request=600, margin=60)
