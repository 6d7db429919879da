"""Items that one request is changing, held apart from every other request that would change them: an upload
holds its items from writing their files until it has settled them, a delete while it removes the points and
their files. Without it a delete that came while an upload was embedded removed the new file, and the upload
then stored a point whose image was gone (or put the earlier file back for a point that was gone)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterable


class Claims:
    """Items (collection, point id) held by requests; a request waits until none of its items is held by
    another, then holds all of them at once, so that two requests never wait for each other. Requests wait in
    the event loop, not in worker threads: those are few (40), and every blocking route needs one."""

    def __init__(self) -> None:
        self._held: set[tuple[str, str]] = set()
        self._released = asyncio.Event()  # set, and replaced, whenever items are let go

    @asynccontextmanager
    async def hold(self, collection: str, points: Iterable[str]) -> AsyncIterator[None]:
        wanted = {(collection, point) for point in points}
        while not self._held.isdisjoint(wanted):  # the event loop's thread alone touches the set
            await self._released.wait()
        self._held |= wanted
        try:
            yield
        finally:
            self._held -= wanted
            released, self._released = self._released, asyncio.Event()
            released.set()
