"""uvicorn's server, saying where it listens once it does: uvicorn's own line is below the log level embc keeps."""

from __future__ import annotations

import uvicorn

from embc.service.logs import say


class AnnouncedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, line: str):
        super().__init__(config)
        self.line = line

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            say(self.line)
