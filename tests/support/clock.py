"""Time for the tests of providers that poll (components/one_off_task.py, components/host_command.py)."""

from __future__ import annotations


class FakeClock:
    """Time that only moves when the provider sleeps; every sleep is recorded."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
