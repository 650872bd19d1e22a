"""A fake Docker CLI: the commands components/docker_job.py runs, with the CLI's documented behaviour
(docs.docker.com/reference/cli/docker/): global --host/--context; `image inspect` fails (exit 1)
for an image the daemon does not hold; `pull` downloads it or fails with the registry's error;
`create` prints the new container's 64-hex id, takes `--env NAME` without a value from the CLI's
own environment (and leaves the variable out when it is unset there), pulls a missing image or
fails with exit 125; `cp -` reads a tar stream from stdin; `start` prints the id; `wait` blocks
until the container exits and prints its exit code; `logs --tail N` prints the last N lines;
`ps --quiet` (running containers; with `--all` every one) and `volume ls --quiet` print what
matches every `--filter label=K=V`; `rm --force` removes containers running or not; `volume create`
prints the name, `volume rm --force` ignores missing volumes.

What each container "does" is declared per step (label llm-gateway.job.step): its exit code, its
log, files it writes into its mounted volumes, how long it runs, or that it never exits. With a
clock (tests/support/clock.py), a pull and a container's run take its time, and `wait` with a
timeout shorter than the rest of the run times out after that timeout. Used in-process
(`FakeDocker.__call__`, the provider's `docker` argument) and, for the CLI path itself, as a
`docker` executable on PATH (`write_executable`), with its state in a JSON file (no clock there).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.support.clock import FakeClock


@dataclass
class Behaviour:
    exit_code: int = 0
    log: str = ""
    writes: dict[str, str] = field(default_factory=dict)  # path in the container (under a mount) -> content
    hang: bool = False  # never exits: `docker wait` outlives any timeout
    seconds: float = 0.0  # how long it runs (clock time, with a clock)


@dataclass
class Container:
    id: str
    name: str
    image: str
    network: str
    labels: dict[str, str]
    entrypoint: str | None
    args: list[str]
    env: dict[str, str]
    mounts: dict[str, str]  # container path -> volume
    user: str | None = None
    memory: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # copied in before start
    seen: dict[str, str] = field(default_factory=dict)  # what its mounts held when it started
    state: str = "created"  # created, running, exited, hanging, removed
    ends_at: float | None = None  # when a running container exits (clock time)
    exit_code: int | None = None
    log: str = ""

    @property
    def step(self) -> str:
        return self.labels.get("llm-gateway.job.step", "")


@dataclass
class FakeDocker:
    behaviours: dict[str, Behaviour] = field(default_factory=dict)  # step -> what its container does
    missing_images: set[str] = field(default_factory=set)  # images no registry serves
    images: set[str] = field(default_factory=set)  # images the daemon holds (pulled)
    containers: dict[str, Container] = field(default_factory=dict)  # id -> every container ever created, in order
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> relative path -> content
    volume_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)  # every argv, global options included
    removed_volumes: list[str] = field(default_factory=list)
    refuse_removal: bool = False  # every `rm` and `volume rm` fails, as with a daemon that cannot remove
    clock: FakeClock | None = None  # in-process only
    pull_seconds: float = 0.0  # how long one pull takes (clock time)

    def __call__(self, args: Sequence[str], *, env: Mapping[str, str] | None = None, stdin: bytes | None = None,
                 timeout: float | None = None) -> subprocess.CompletedProcess:
        args = list(args)
        self.calls.append(args)
        rest = _without_global_options(args)
        code, out, err = self._dispatch(rest, dict(env or {}), stdin, timeout)
        return subprocess.CompletedProcess(["docker", *args], code, out, err)

    # -- commands --------------------------------------------------------------------------
    def _dispatch(self, args: list[str], env: dict[str, str], stdin: bytes | None,
                  timeout: float | None) -> tuple[int, str, str]:
        command, *rest = args
        if command == "volume":
            return self._volume(rest)
        if command == "create":
            return self._create(rest, env)
        if command == "image" and rest[0] == "inspect":
            image = rest[-1]
            return (0, f"sha256:{hashlib.sha256(image.encode()).hexdigest()}\n", "") if image in self.images else (
                1, "", f"Error response from daemon: No such image: {image}\n")
        if command == "pull":
            return self._pull(rest[-1])
        if command == "ps":  # without --all: running containers only
            shown = [c for c in self.present if _matches(c.labels, rest) and ("--all" in rest or self._running(c))]
            return 0, "".join(f"{c.id[:12]}\n" for c in shown), ""
        if command == "rm":
            return self._remove(rest)
        container = self._find(rest[-1].split(":", 1)[0])
        if container is None:
            return 1, "", f"Error response from daemon: No such container: {rest[-1]}\n"
        if command == "cp":
            return self._copy(container, stdin or b"")
        if command == "start":
            return self._start(container)
        if command == "wait":
            return self._wait(container, timeout)
        if command == "logs":
            count = int(rest[rest.index("--tail") + 1])
            return 0, "".join(container.log.splitlines(keepends=True)[-count:]), ""
        raise AssertionError(f"the fake knows no `docker {command}`")

    def _pull(self, image: str) -> tuple[int, str, str]:
        if image in self.missing_images:
            return 1, "", f"Error response from daemon: manifest for {image} not found: manifest unknown: manifest unknown\n"
        self._advance(self.pull_seconds)
        self.images.add(image)
        return 0, f"Status: Downloaded newer image for {image}\n{image}\n", ""

    def _wait(self, container: Container, timeout: float | None) -> tuple[int, str, str]:
        left = float("inf") if container.state == "hanging" else max((container.ends_at or 0) - self._now(), 0)
        if timeout is None and left == float("inf"):  # blocks for good (main: the caller's timeout ends it)
            raise subprocess.TimeoutExpired(["docker", "wait", container.id], 0)
        if timeout is not None and timeout < left:
            self._advance(timeout)
            raise subprocess.TimeoutExpired(["docker", "wait", container.id], timeout)
        self._advance(left)
        container.state = "exited"
        return 0, f"{container.exit_code}\n", ""

    def _remove(self, args: list[str]) -> tuple[int, str, str]:
        references = [arg for arg in args if not arg.startswith("-")]
        if self.refuse_removal:
            return 1, "", "".join(f"Error response from daemon: cannot remove container \"{r}\": could not kill: "
                                  "permission denied\n" for r in references)
        out = ""
        for reference in references:
            container = self._find(reference)
            if container is None:
                return 1, out, f"Error response from daemon: No such container: {reference}\n"
            container.state = "removed"
            out += f"{reference}\n"
        return 0, out, ""

    def _running(self, container: Container) -> bool:
        return container.state == "hanging" or (container.state == "running" and (container.ends_at or 0) > self._now())

    def _now(self) -> float:
        return self.clock.monotonic() if self.clock else 0.0

    def _advance(self, seconds: float) -> None:
        if self.clock and seconds:
            self.clock.sleep(seconds)

    def _volume(self, args: list[str]) -> tuple[int, str, str]:
        action, *rest = args
        names = [arg for arg in rest if not arg.startswith("--") and "=" not in arg]
        if action == "create":
            self.volumes.setdefault(names[-1], {})
            self.volume_labels[names[-1]] = _labels(rest)
            return 0, f"{names[-1]}\n", ""
        if action == "ls":
            return 0, "".join(f"{name}\n" for name in self.volumes if _matches(self.volume_labels.get(name, {}), rest)), ""
        if action == "rm":
            if self.refuse_removal:
                return 1, "", "".join(f"Error response from daemon: remove {name}: volume is in use\n" for name in names)
            for name in names:
                self.volumes.pop(name, None)
                self.removed_volumes.append(name)
            return 0, "".join(f"{name}\n" for name in names), ""
        raise AssertionError(f"the fake knows no `docker volume {action}`")

    def _create(self, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
        options: dict[str, list[str]] = {}
        index = 0
        while args[index].startswith("--"):
            options.setdefault(args[index], []).append(args[index + 1])
            index += 2
        image, *rest = args[index:]
        if image not in self.images:  # `docker create` pulls a missing image
            pulled = self._pull(image)
            if pulled[0] != 0:
                return 125, "", f"Unable to find image '{image}' locally\ndocker: {pulled[2]}"
        name = options["--name"][0]
        container = Container(
            id=hashlib.sha256(name.encode()).hexdigest(), name=name, image=image, network=options["--network"][0],
            labels=_labels(args[:index]),
            entrypoint=(options.get("--entrypoint") or [None])[0], args=rest,
            env={n: env[n] for n in options.get("--env", []) if n in env},  # unset locally: left out
            mounts={_mount(m)["target"]: _mount(m)["source"] for m in options.get("--mount", [])},
            user=(options.get("--user") or [None])[0], memory=(options.get("--memory") or [None])[0],
        )
        for volume in container.mounts.values():
            if volume not in self.volumes:
                return 125, "", f"Error response from daemon: volume {volume} not found\n"
        self.containers[container.id] = container
        return 0, f"{container.id}\n", ""

    def _copy(self, container: Container, archive: bytes) -> tuple[int, str, str]:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                container.files["/" + member.name] = tar.extractfile(member).read().decode()
        return 0, "", ""

    def _start(self, container: Container) -> tuple[int, str, str]:
        behaviour = self.behaviours.get(container.step, Behaviour())
        container.seen = {f"{path}/{rel}": content for path, volume in container.mounts.items()
                          for rel, content in self.volumes[volume].items()}
        for path, content in behaviour.writes.items():
            mount = max((p for p in container.mounts if path.startswith(p + "/")), key=len)
            self.volumes[container.mounts[mount]][path[len(mount) + 1:]] = content
        container.log = behaviour.log
        container.state, container.exit_code = ("hanging", None) if behaviour.hang else ("running", behaviour.exit_code)
        container.ends_at = self._now() + behaviour.seconds
        return 0, f"{container.id}\n", ""

    def _find(self, reference: str) -> Container | None:
        return next((c for c in self.present if reference in (c.id, c.id[:12], c.name)), None)

    @property
    def history(self) -> list[Container]:
        return list(self.containers.values())

    @property
    def present(self) -> list[Container]:
        """The containers not removed."""
        return [c for c in self.containers.values() if c.state != "removed"]

    # -- as an executable ------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.write_text(json.dumps({
            "behaviours": {k: asdict(v) for k, v in self.behaviours.items()}, "missing_images": sorted(self.missing_images),
            "images": sorted(self.images), "containers": {k: asdict(v) for k, v in self.containers.items()},
            "volumes": self.volumes, "volume_labels": self.volume_labels, "calls": self.calls,
            "removed_volumes": self.removed_volumes, "refuse_removal": self.refuse_removal,
        }))

    @classmethod
    def load(cls, path: Path) -> FakeDocker:
        state = json.loads(path.read_text())
        return cls(
            behaviours={k: Behaviour(**v) for k, v in state["behaviours"].items()},
            missing_images=set(state["missing_images"]), images=set(state["images"]),
            containers={k: Container(**v) for k, v in state["containers"].items()}, volumes=state["volumes"],
            volume_labels=state["volume_labels"], calls=state["calls"], removed_volumes=state["removed_volumes"],
            refuse_removal=state["refuse_removal"],
        )


STATE_VAR = "FAKE_DOCKER_STATE"


def write_executable(directory: Path, state: Path) -> Path:
    """A `docker` executable in `directory` that runs the fake with its state in the file its
    environment names (STATE_VAR); starts that state empty unless `state` exists."""
    executable = directory / "docker"
    root = Path(__file__).resolve().parents[2]
    executable.write_text(
        f"#!{sys.executable}\n"
        f"import sys; sys.path.insert(0, {str(root)!r})\n"
        "from tests.support.fake_docker import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    executable.chmod(0o755)
    if not state.exists():
        FakeDocker().save(state)
    return executable


def main(args: list[str]) -> int:
    state = Path(os.environ[STATE_VAR])
    docker = FakeDocker.load(state)
    try:
        # Only `cp -` reads its standard input (a tar stream); other commands leave it alone.
        stdin = sys.stdin.buffer.read() if "cp" in _without_global_options(args)[:1] else None
        done = docker(args, env=os.environ, stdin=stdin)
    except subprocess.TimeoutExpired:
        docker.save(state)
        import time

        time.sleep(3600)  # a container that never exits: the caller's timeout ends this process
        return 1
    docker.save(state)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


def _without_global_options(args: list[str]) -> list[str]:
    while args and args[0] in ("--host", "--context"):
        args = args[2:]
    return args


def _mount(spec: str) -> dict[str, Any]:
    return dict(part.split("=", 1) for part in spec.split(","))


def _labels(args: list[str]) -> dict[str, str]:
    """The `--label K=V` options among `args`."""
    return dict(args[i + 1].split("=", 1) for i, arg in enumerate(args[:-1]) if arg == "--label")


def _matches(labels: dict[str, str], args: list[str]) -> bool:
    """Whether `labels` has every `--filter label=K=V` among `args` (Docker ANDs label filters)."""
    wanted = [args[i + 1].removeprefix("label=") for i, arg in enumerate(args[:-1])
              if arg == "--filter" and args[i + 1].startswith("label=")]
    return all(labels.get(key) == value for key, _, value in (w.partition("=") for w in wanted))
