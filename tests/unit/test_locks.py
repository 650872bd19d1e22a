"""Every Python install is hash-pinned: the locks agree with requirements*.txt and constraints.txt,
carry a sha256 for every pin, and every `pip install` (Makefile, workflows, scripts) uses them with
`--require-hashes`. A requirement changed without `make lock` fails here, before any install.
"""

from __future__ import annotations

import pytest

from tests.support.locks import (
    CONSTRAINTS,
    LOCKS,
    REQUIREMENT_FILES,
    TOOLS_LOCK,
    agreement_problems,
    canonical,
    hash_pinning_problems,
    lock_problems,
    pins,
    pip_install_commands,
)
from tests.support.workflows import ROOT, workflow_files

# Where installs happen: `make test`/CI (Makefile), the workflows' .venv for `pulumi`, the lock script.
INSTALL_SITES = ["Makefile", *(path.relative_to(ROOT).as_posix() for path in workflow_files()),
                 *(path.relative_to(ROOT).as_posix() for path in sorted((ROOT / "scripts").glob("*.sh")))]


def read_lock(name: str):
    path = ROOT / name
    assert path.is_file(), f"{name} is missing: run `make lock`"
    return lock_problems(path.read_text())


@pytest.mark.parametrize("lock", [*LOCKS, TOOLS_LOCK])
def test_every_locked_requirement_is_pinned_with_sha256_hashes(lock):
    locked, problems = read_lock(lock)
    assert locked, f"{lock} pins nothing"
    assert not problems, f"{lock}: pip --require-hashes would refuse:\n" + "\n".join(problems)


@pytest.mark.parametrize("lock", LOCKS)
def test_each_lock_agrees_with_its_requirement_files_and_the_constraints(lock):
    locked, _ = read_lock(lock)
    required: dict[str, str] = {}
    for source in LOCKS[lock]:
        required.update(pins(source))
    problems = agreement_problems(locked, required, pins(CONSTRAINTS))
    assert not problems, f"{lock} is stale (run `make lock` and commit it):\n" + "\n".join(problems)


def test_every_requirement_file_feeds_a_lock():
    assert {source for sources in LOCKS.values() for source in sources} == set(REQUIREMENT_FILES)
    assert set(pins("requirements.txt")) <= set(pins("requirements-dev.txt")), "requirements-dev.txt must include requirements.txt"


def test_what_deploys_is_what_the_tests_ran():
    """requirements.lock (the workflows' .venv for `pulumi`) is a subset of requirements-dev.lock (`make test`),
    same versions and same hashes, so a deploy never runs a dependency the tests did not."""
    runtime, _ = read_lock("requirements.lock")
    dev, _ = read_lock("requirements-dev.lock")
    differ = [name for name in runtime if name not in dev or dev[name] != runtime[name]]
    assert not differ, f"requirements.lock pins these unlike requirements-dev.lock: {differ}"
    assert {"pulumi", "pulumi-policy", "pyyaml", "boto3"} <= set(runtime), "the program and the policy pack need these"
    assert not {"pytest", "ruff", "litellm", "moto"} & set(runtime), "no test tooling next to cloud credentials"


@pytest.mark.parametrize("site", INSTALL_SITES)
def test_every_pip_install_is_hash_checked_from_a_lock(site):
    commands = pip_install_commands((ROOT / site).read_text())
    problems = [f"{command}: {'; '.join(found)}" for command in commands if (found := hash_pinning_problems(command))]
    assert not problems, f"{site}: unhashed pip installs:\n" + "\n".join(problems)


def test_make_installs_the_dev_lock_and_checks_it_complete():
    text = (ROOT / "Makefile").read_text()
    assert any("-r requirements-dev.lock" in command for command in pip_install_commands(text)), text
    assert "$(PYTHON) -m pip check" in text, "--no-deps trusts the lock to be complete: `pip check` must prove it"


# --- the checks themselves catch what they are for ---------------------------------------------

LOCK = """\
# a comment
boto3==1.44.5 \\
    --hash=sha256:{a} \\
    --hash=sha256:{b}
    # via -r requirements.txt
litellm[proxy]==1.104.0 \\
    --hash=sha256:{a}
""".format(a="a" * 64, b="b" * 64)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("", "", None),
        ("litellm[proxy]==1.104.0 \\\n    --hash=sha256:" + "a" * 64 + "\n", "litellm[proxy]==1.104.0\n", "no hash"),
        ("boto3==1.44.5", "boto3>=1.44.5", "not a name==version pin"),
        ("--hash=sha256:" + "b" * 64, "--hash=md5:" + "b" * 32, "--hash=md5"),
        ("# a comment", "--index-url https://example.invalid/simple", "not a name==version pin"),
    ],
    ids=["valid", "unhashed", "unpinned", "not-sha256", "option-line"],
)
def test_lock_problems_catch_what_hash_checking_refuses(old, new, expected):
    locked, problems = lock_problems(LOCK.replace(old, new))
    if expected is None:
        assert not problems and locked["litellm"].version == "1.104.0" and len(locked["boto3"].hashes) == 2
    else:
        assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("required", "constraints", "expected"),
    [
        ({"boto3": "1.44.5", "litellm": "1.104.0"}, {}, None),
        ({"boto3": "1.44.6", "litellm": "1.104.0"}, {}, "boto3==1.44.6 is required but the lock has 1.44.5"),
        ({"boto3": "1.44.5", "litellm": "1.104.0", "ruff": "0.17.6"}, {}, "ruff==0.17.6 is required but the lock has nothing"),
        ({"boto3": "1.44.5"}, {}, "litellm==1.104.0 is in the lock but pinned in no"),
        ({"boto3": "1.44.5"}, {"litellm": "1.104.1"}, "litellm: the lock has 1.104.0, constraints.txt 1.104.1"),
    ],
    ids=["agrees", "requirement-moved", "requirement-added", "requirement-removed", "constraint-moved"],
)
def test_agreement_problems_catch_a_requirement_changed_without_relocking(required, constraints, expected):
    locked, _ = lock_problems(LOCK)
    problems = agreement_problems(locked, required, constraints)
    assert (not problems) if expected is None else any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("$(PYTHON) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock", None),
        ("pip install --require-hashes -r requirements-dev.lock", "no --no-deps"),
        ("$(PYTHON) -m pip install --quiet -r requirements-dev.txt -c constraints.txt", "no --require-hashes"),
        (".venv/bin/python -m pip install --require-hashes -r requirements.txt", "only a *.lock file"),
        ('pip install --require-hashes -r requirements.lock "pulumi-policy==1.21.0"', "names packages"),
        ("pip3 install litellm", "no --require-hashes"),
    ],
    ids=["locked", "resolves-deps", "old-makefile", "requirements-file", "named-package", "bare"],
)
def test_hash_pinning_problems_catch_an_unhashed_install(command, expected):
    assert pip_install_commands(command) == [command]
    problems = hash_pinning_problems(command)
    assert (not problems) if expected is None else any(expected in problem for problem in problems), problems


def test_canonical_names_follow_pep_503():
    assert canonical("PyYAML") == canonical("pyyaml") == "pyyaml"
    assert canonical("typing_extensions") == canonical("Typing.Extensions") == "typing-extensions"
