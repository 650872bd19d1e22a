"""Offline render for reviewers: every generated artifact of a stack, under build/<stack>/.

Needs no cloud credentials and no Pulumi engine: settings come from Pulumi.<stack>.yaml and the
renderers are the same pure functions the program uses.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.litellm_config import render_proxy_config  # noqa: E402
from config.stack_file import settings_from_stack_file  # noqa: E402


def render(stack: str, out_dir: Path) -> list[Path]:
    settings = settings_from_stack_file(ROOT, stack)
    artifacts = {
        "litellm-config.yaml": render_proxy_config(settings).text,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in artifacts.items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: render.py <stack>")
    stack_name = sys.argv[1]
    for path in render(stack_name, ROOT / "build" / stack_name):
        print(path.relative_to(ROOT))
