"""Reading GitHub Actions workflow files for tests: parsed documents, jobs, steps and action refs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from tests.support import yaml_docs

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# `owner/repo[/path]@ref`, the form of every remote action reference.
REMOTE_ACTION_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?)@(?P<ref>[^\s@]+)$")
# A `uses:` line with its trailing comment, e.g. `- uses: actions/checkout@<sha> # v7.0.1`.
USES_LINE_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*?))?\s*$")
VERSION_COMMENT_RE = re.compile(r"^v\d+\.\d+\.\d+$")


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])


@dataclass(frozen=True)
class Workflow:
    path: Path
    text: str
    doc: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def triggers(self) -> dict[str, Any]:
        """The `on:` block as a mapping (YAML 1.1 reads a bare `on` key as the boolean True)."""
        on = self.doc.get("on", self.doc.get(True))
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return {event: None for event in on}
        return dict(on or {})

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("jobs") or {}

    def job(self, job_id: str) -> dict[str, Any]:
        jobs = self.jobs
        assert job_id in jobs, f"{self.name}: no job {job_id!r} (jobs: {sorted(jobs)})"
        return jobs[job_id]


def load_workflow(path: Path) -> Workflow:
    text = path.read_text()
    doc = yaml_docs.load(text)
    assert isinstance(doc, dict), f"{path.name}: not a YAML mapping"
    return Workflow(path=path, text=text, doc=doc)


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def action_name(uses: str) -> str:
    """`owner/repo@ref` -> `owner/repo` (local `./...` and `docker://...` refs come back unchanged)."""
    match = REMOTE_ACTION_RE.match(uses)
    return match.group("name") if match else uses


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in steps(job) if "uses" in step and action_name(step["uses"]) == action]


def step_index(job: dict[str, Any], predicate) -> int:
    for index, step in enumerate(steps(job)):
        if predicate(step):
            return index
    return -1


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs") or []
    return [value] if isinstance(value, str) else list(value)


def environment_name(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        return env.get("name")
    return env


def iter_uses_lines(workflow: Workflow) -> Iterator[tuple[int, str, str | None]]:
    """(line number, action ref, trailing comment) for every `uses:` line of the raw text."""
    for number, line in enumerate(workflow.text.splitlines(), start=1):
        match = USES_LINE_RE.match(line)
        if match:
            yield number, match.group("ref"), match.group("comment")


def iter_all_uses(workflow: Workflow) -> Iterator[tuple[str, str]]:
    """(job id, ref) for every `uses:` of the parsed document: steps and reusable-workflow jobs."""
    for job_id, job in workflow.jobs.items():
        if "uses" in job:
            yield job_id, job["uses"]
        for step in steps(job):
            if "uses" in step:
                yield job_id, step["uses"]
