"""Work shared out among the processes of `make unit` (scripts/unit_tier.py) by who claims it first.

Every process collects the whole tier and goes through it in the same order (tests/conftest.py puts
the longest modules first), running the modules (or `xdist_group`s) that no other process claimed
before it. A claim is a file created only where none is: one process gets it, whatever their timing.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote


class Claims:
    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._decided: dict[str, bool] = {}

    def take(self, name: str) -> bool:
        """Whether this process has `name`: claimed now if no process has, and kept as decided."""
        if name not in self._decided:
            try:
                os.close(os.open(self.directory / quote(name, safe=" "), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                self._decided[name] = False
            else:
                self._decided[name] = True
        return self._decided[name]
