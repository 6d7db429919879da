"""Questions that wait in the event loop are answered together (embc.service.batches): what arrives while a
key's call runs goes in that key's next call, each caller gets its own answer, and a request that cannot be
answered fails only its own caller."""

from __future__ import annotations

import asyncio
import threading

import pytest

from embc.service.batches import Batches


def test_requests_that_arrive_during_a_call_go_in_the_next_one_and_keys_stay_apart():
    calls: list[tuple[str, list[int]]] = []
    first_running, release = threading.Event(), threading.Event()

    def run(key: str, requests: list[int]) -> list[int]:
        calls.append((key, list(requests)))
        if len(calls) == 1:
            first_running.set()
            release.wait(10)
        return [r * 10 for r in requests]

    async def scenario() -> tuple[list[int], list[int]]:
        batches = Batches(run)
        try:
            first = asyncio.create_task(batches("a", 0))
            await asyncio.get_running_loop().run_in_executor(None, first_running.wait, 10)
            later = [asyncio.create_task(batches("a", n)) for n in range(1, 6)]
            other = await batches("b", 7)  # another key does not wait for the first one's call
            await asyncio.sleep(0.05)
            release.set()
            return [await first, *await asyncio.gather(*later)], [other]
        finally:
            batches.close()

    results, other = asyncio.run(scenario())
    assert results == [0, 10, 20, 30, 40, 50] and other == [70]
    assert calls == [("a", [0]), ("b", [7]), ("a", [1, 2, 3, 4, 5])]


def test_a_request_that_fails_fails_only_its_own_caller():
    def run(key: str, requests: list[int]) -> list[float]:
        return [1 / r for r in requests]  # 0 cannot be answered

    async def scenario() -> list:
        batches = Batches(run)
        try:
            return await asyncio.gather(*(batches("k", n) for n in (1, 0, 4)), return_exceptions=True)
        finally:
            batches.close()

    one, zero, four = asyncio.run(scenario())
    assert one == 1.0 and four == 0.25 and isinstance(zero, ZeroDivisionError)
    with pytest.raises(ZeroDivisionError):
        asyncio.run(Batches(run)("k", 0))
