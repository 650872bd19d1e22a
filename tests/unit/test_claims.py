"""`make unit`'s processes share out the modules by claims (tests/support/claims.py): whoever asks
first gets a claim, and only one does, however many ask at once; a process keeps what it decided.
The processes themselves: tests/integration/test_unit_tier.py."""

from __future__ import annotations

import threading

from tests.support.claims import Claims

ASKERS = 8


def test_one_of_many_asking_at_once_gets_a_claim(tmp_path):
    claims = [Claims(tmp_path) for _ in range(ASKERS)]
    start = threading.Barrier(ASKERS)
    got = []

    def ask(mine: Claims) -> None:
        start.wait()
        got.append(mine.take("module tests/unit/test_alarms.py"))  # a name with slashes

    threads = [threading.Thread(target=ask, args=(mine,)) for mine in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == [False] * (ASKERS - 1) + [True]


def test_a_process_keeps_what_it_decided(tmp_path):
    first, second = Claims(tmp_path), Claims(tmp_path)
    assert first.take("group teams-at-scale")
    assert not second.take("group teams-at-scale")
    assert first.take("group teams-at-scale") and not second.take("group teams-at-scale")
    assert second.take("module tests/unit/test_ec2.py")
