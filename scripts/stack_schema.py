"""Write the stack file's JSON Schema (schema/stack.schema.json) and the README's settings tables
from config/settings.py (`make schema`); tests/unit/test_stack_schema.py fails while they differ."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.stack_schema import SCHEMA_FILE, schema_text, with_settings_tables  # noqa: E402


def main() -> None:
    (ROOT / SCHEMA_FILE).write_text(schema_text())
    readme = ROOT / "README.md"
    readme.write_text(with_settings_tables(readme.read_text()))


if __name__ == "__main__":
    main()
