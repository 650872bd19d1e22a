"""Lint as a test: unused imports and variables, likely bugs, outdated idioms fail the build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.stacks import ROOT

RUFF = Path(sys.executable).parent / "ruff"


def test_ruff_finds_nothing():
    result = subprocess.run([str(RUFF), "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_would_catch_dead_code(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\n\ndef f():\n    unused = 1\n")
    result = subprocess.run([str(RUFF), "check", "--no-cache", "--config", str(ROOT / "ruff.toml"), str(sample)],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "F401" in result.stdout and "F841" in result.stdout
