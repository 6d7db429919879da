"""Questions that wait in the event loop and are answered together.

The engine's binding holds the GIL for the whole of each call, so a server's threads answer searches one after
another whatever their number, and the more threads wait for the GIL, the more of it goes to handing it on.
Answered in anyio's worker threads (one per request waiting), similar-by-item at 100,000 points served 853-1,045
requests/s to 16 clients on 2 cores; in an executor of 2 threads, 1,194-1,350, but exact searches (before the
collection's index is built) then lost their batching: 158 requests/s against 237 (docs/performance.md). Here a
request waits as a future in the event loop, and each key has one call running at a time, in a small pool of
threads, for every request of that key that arrived while its last call ran: 1,020-1,364 requests/s against
783-1,110 with new items in every request, and 265-273 against 237-238 for exact searches.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Callable, Generic, Hashable, Sequence

from embc.coalesce import Request, Result, outcomes

THREADS = 4  # keys answered at once, at most: each key's calls run one at a time


class Batches(Generic[Request, Result]):
    """`await batches(key, request)`: `run(key, requests)` (results in the same order) for every request of
    that key waiting when the key's last call ended; a failed call is made again for each request alone
    (`embc.coalesce.outcomes`)."""

    def __init__(self, run: Callable[[Hashable, list[Request]], Sequence[Result]], threads: int = THREADS):
        self._run_many = run
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="embc-batch")
        self._waiting: dict[Hashable, list[tuple[Request, asyncio.Future]]] = {}
        self._draining: dict[Hashable, asyncio.Task] = {}  # the event loop's thread alone touches these two

    async def __call__(self, key: Hashable, request: Request) -> Result:
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((request, future))
        if key not in self._draining:
            self._draining[key] = asyncio.create_task(self._drain(key))
        return await future

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _drain(self, key: Hashable) -> None:
        loop = asyncio.get_running_loop()
        batch: list[tuple[Request, asyncio.Future]] = []
        try:
            while self._waiting.get(key):
                batch = self._waiting.pop(key)
                answered = await loop.run_in_executor(self._pool, outcomes, partial(self._run_many, key),
                                                      [request for request, _ in batch])
                for (_, future), (result, error) in zip(batch, answered):
                    if future.done():  # its client went away
                        continue
                    if error is None:
                        future.set_result(result)
                    else:
                        future.set_exception(error)
                batch = []
        except BaseException as exc:  # the server is stopping: no request is left waiting for ever
            for _, future in batch + self._waiting.pop(key, []):
                if not future.done():
                    future.cancel() if isinstance(exc, asyncio.CancelledError) else future.set_exception(exc)
            raise
        finally:
            del self._draining[key]
