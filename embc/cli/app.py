"""The Typer app and its global options; each command module adds its commands to `app`."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable, Optional

import typer
from typer.core import TyperGroup

from embc.errors import EmbcError, describe_error, masked

# The global options, also accepted after the subcommand: (name, flag, envvar, help).
GLOBAL_OPTIONS = [
    ("home", "--data-dir", "EMBC_HOME", "Folder for the embedded collections and the report store."),
    ("qdrant_url", "--qdrant-url", "EMBC_QDRANT_URL", "Use a Qdrant server instead of the embedded store."),
    ("api_key", "--api-key", "EMBC_QDRANT_API_KEY", "API key of the Qdrant server."),
    ("server", "--server", "EMBC_URL", "Go through a running `embc serve` at this URL (its key: EMBC_API_KEY)."),
]


@dataclass
class Settings:
    """The global options; the Workspace they name is opened when a command first needs it."""

    home: Optional[str] = None
    qdrant_url: Optional[str] = None
    api_key: Optional[str] = None
    server: Optional[str] = None

    @cached_property
    def workspace(self):
        """The data: through `embc serve` when one is named, or when one owns the data directory (which it
        keeps locked while it runs); else the Workspace itself."""
        if self.server:
            from embc.client import Client

            return Client(self.server)
        from embc.layout import Layout, default_home
        from embc.service.owner import server_of

        home = default_home(self.home)
        url = server_of(Layout(home))
        if url:
            from embc.client import Client

            typer.echo(f"embc: {home} is served by embc serve at {url}: asking it", err=True)
            return Client(url)
        return self.open()

    def check_output(self, path: str | os.PathLike) -> None:
        """ParameterError when a file the user names to write would replace one of the local data directory's own
        (also when a server owns it, since the file is written here)."""
        if not self.server:
            from embc.layout import Layout, default_home

            Layout(default_home(self.home)).check_outside(path)

    def open(self, resident: bool = False):
        from embc.workspace import Workspace

        return Workspace(self.home, qdrant_url=self.qdrant_url, api_key=self.api_key, resident=resident)


def hoist_global_options(args: list[str], own: Callable[[str], Iterable[str]] = lambda command: ()) -> list[str]:
    """The arguments with any global option given after the subcommand moved before it (up to a `--`), unless
    the subcommand has an option of that name itself (`own(subcommand)`): `embc serve --api-key KEY` is the
    server's key, where hoisting it made it the Qdrant server's and left the service open to every client."""
    flags = {flag for _, flag, _, _ in GLOBAL_OPTIONS}
    command = 0  # the subcommand's position: past the options before it, and their values
    while command < len(args) and args[command].startswith("-"):
        command += 2 if args[command] in flags else 1
    if command < len(args):
        flags -= set(own(args[command]))
    hoisted, rest, i = [], [], command + 1
    while i < len(args) and args[i] != "--":
        takes = 2 if args[i] in flags else 1
        (hoisted if args[i].split("=", 1)[0] in flags else rest).extend(args[i:i + takes])
        i += takes
    return hoisted + args[:command + 1] + rest + args[i:]


class EmbcGroup(TyperGroup):
    """Turns any error below a command into one line on stderr and exit code 1 (EMBC_DEBUG=1: the traceback),
    and accepts the global options after the subcommand too."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        def own(name: str) -> list[str]:
            command = self.commands.get(name)
            return [flag for param in command.params for flag in param.opts] if command else []

        return super().parse_args(ctx, hoist_global_options(list(args), own))

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # the reader went away (`embc export -o - | head`): stop quietly, as `cat` does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit fails else
            raise typer.Exit(141) from None
        except typer.BadParameter as exc:
            # Typer checks a choice with pydantic, whose message starts with the error's type.
            exc.message = exc.message.removeprefix("Value error, ")
            raise
        except KeyboardInterrupt as exc:
            typer.echo(masked(f"embc: interrupted{f': {exc}' if str(exc) else ''}", secret_keys(ctx)), err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if hasattr(exc, "exit_code") or (os.environ.get("EMBC_DEBUG") and not isinstance(exc, EmbcError)):
                raise  # the command line's own exits and usage errors, or a traceback asked for
            typer.echo(f"embc: error: {describe_error(exc, secret_keys(ctx))}", err=True)
            raise typer.Exit(1) from None


def secret_keys(ctx: typer.Context) -> tuple[str | None, ...]:
    """The keys a message must never show."""
    settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    return settings.api_key, os.environ.get("EMBC_QDRANT_API_KEY"), os.environ.get("EMBC_API_KEY")


# Boxed help and errors in a terminal; plain lines in logs and pipes.
app = typer.Typer(cls=EmbcGroup, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode="rich" if sys.stderr.isatty() else None,
                  help="Embed documents into Qdrant, cluster them, and ask what is in each cluster.")


def _version(value: bool) -> None:
    if value:
        from embc import __version__

        typer.echo(f"embc {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Optional[str] = typer.Option(None, "--data-dir", envvar="EMBC_HOME", metavar="PATH",
                                       help=GLOBAL_OPTIONS[0][3]),
    qdrant_url: Optional[str] = typer.Option(None, "--qdrant-url", envvar="EMBC_QDRANT_URL", metavar="URL",
                                             help=GLOBAL_OPTIONS[1][3]),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="EMBC_QDRANT_API_KEY", metavar="KEY",
                                          help=GLOBAL_OPTIONS[2][3], show_envvar=False),
    server: Optional[str] = typer.Option(None, "--server", envvar="EMBC_URL", metavar="URL", help=GLOBAL_OPTIONS[3][3]),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    ctx.obj = Settings(home, qdrant_url, api_key, server)


def workspace(ctx: typer.Context):
    """The Workspace of the global options (a command's only way to the data)."""
    return ctx.obj.workspace
