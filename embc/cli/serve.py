"""`embc serve`: the HTTP API on uvicorn."""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
from functools import partial
from typing import Optional

import typer

from embc.cli.app import app
from embc.cli.recluster import parse_interval
from embc.environment import LONGEST_WAIT
from embc.errors import EmbcError


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int) -> None:
    """EmbcError, in one line, when the server could not listen at host:port (uvicorn would log its own error
    and exit 3)."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        hint = " (is another server there? choose another --port)" if exc.errno == errno.EADDRINUSE else ""
        raise EmbcError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None


def _url(host: str, port: int) -> str:
    """Where a client on this machine reaches the server."""
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _seconds(value: float) -> float:
    """A deadline: 0.1 s or more, and finite (inf would turn it off; nan compares false with every bound)."""
    if not 0.1 <= value <= LONGEST_WAIT:
        raise typer.BadParameter(f"{value:g} is not a number of seconds from 0.1 to {LONGEST_WAIT} (a year)")
    return value


def _exit_on_signal(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


@app.command()
def serve(ctx: typer.Context,
          host: str = typer.Option("127.0.0.1", "--host", metavar="ADDRESS",
                                   help="Address to listen on (loopback unless --api-key)."),
          port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
          api_key: Optional[str] = typer.Option(None, "--api-key", "--key", metavar="KEY", envvar="EMBC_API_KEY",
                                                show_envvar=True,
                                                help="Clients must send Authorization: Bearer KEY (needed to "
                                                "listen beyond loopback)."),
          max_body: int = typer.Option(64 << 20, "--max-body", min=1, help="Largest request body in bytes; "
                                       "larger ones are refused with 413."),
          body_timeout: float = typer.Option(60.0, "--body-timeout", callback=_seconds,
                                             help="Seconds a request body may stall before the request is refused "
                                             "with 408 (0.1 to a year)."),
          header_timeout: float = typer.Option(20.0, "--header-timeout", callback=_seconds,
                                               help="Seconds a request's headers may take to arrive before it is "
                                               "refused with 408 (0.1 to a year)."),
          max_connections: int = typer.Option(512, "--max-connections", min=1, help="Connections held open at "
                                              "once; one more is refused with 503."),
          every: Optional[str] = typer.Option(None, "--every", metavar="INTERVAL", help="Recluster every collection "
                                              "on a schedule: 30s, 10m, 1h30m, 1d (with each one's last parameters)."),
          lazy_models: bool = typer.Option(False, "--lazy-models", help="Load a collection's model at its first "
                                           "text or image question, not ahead once it is quiet (less memory for "
                                           "models never asked for).")) -> None:
    """Serve the data directory over HTTP: the JSON API under /v1, OpenAPI docs at /docs."""
    import uvicorn

    from embc.service.app import REQUEST_WAIT, make_app
    from embc.service.connections import KEEP_ALIVE, ConnectionLimit
    from embc.service.keys import check_key
    from embc.service.listening import AnnouncedServer
    from embc.service.logs import LOG_CONFIG
    from embc.service.owner import claim, server_of

    interval = parse_interval(every) if every is not None else None
    if api_key is not None:
        check_key(api_key)
    if not _loopback(host) and not api_key:
        raise EmbcError(f"refusing to listen on {host} without an API key: pass --api-key (or EMBC_API_KEY), or listen "
                        "on 127.0.0.1")
    served = ctx.obj.open(resident=True)
    served.layout.make()
    _check_free(host, port)
    owner = server_of(served.layout)
    if owner:
        raise EmbcError(f"{served.path} is already served by embc serve at {owner}")
    # uvicorn stops on SIGTERM, then raises it again for the exit status; the default action would then end the
    # process before the workspace closes and the claim is let go.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    url = _url(host, port)
    with claim(served.layout, url), served:
        config = uvicorn.Config(make_app(served, api_key, max_body, interval, body_timeout, not lazy_models),
                                host=host, port=port, log_config=LOG_CONFIG, log_level="warning", access_log=False,
                                http=partial(ConnectionLimit, wait=header_timeout, most=max_connections),
                                timeout_graceful_shutdown=REQUEST_WAIT, timeout_keep_alive=KEEP_ALIVE)
        server = AnnouncedServer(config, f"serving {served.path} at {url}: the map at /, the API at /v1 (its "
                                         "docs at /docs); Ctrl-C stops")
        try:
            server.run()
        except KeyboardInterrupt:  # Ctrl-C is how a server in a terminal is stopped, as uvicorn.run takes it
            pass
        if not server.started:  # uvicorn said why, and exits 3, as uvicorn.run does
            raise typer.Exit(3)
