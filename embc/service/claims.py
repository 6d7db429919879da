"""Items that one request is changing, held apart from every other request that would change them: an upload
holds its items from writing their files until it has settled them, a delete while it removes the points and
their files. Without it a delete that came while an upload was embedded removed the new file, and the upload
then stored a point whose image was gone (or put the earlier file back for a point that was gone)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterable, Iterator


class Claims:
    """Items (collection, point id) held by requests; a request waits until none of its items is held by
    another, then holds all of them at once, so that two requests never wait for each other."""

    def __init__(self) -> None:
        self._held: set[tuple[str, str]] = set()
        self._released = threading.Condition()

    @contextmanager
    def hold(self, collection: str, points: Iterable[str]) -> Iterator[None]:
        wanted = {(collection, point) for point in points}
        with self._released:
            self._released.wait_for(lambda: self._held.isdisjoint(wanted))
            self._held |= wanted
        try:
            yield
        finally:
            with self._released:
                self._held -= wanted
                self._released.notify_all()
