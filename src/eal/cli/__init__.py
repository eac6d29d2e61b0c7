"""The `eal` command line: serve, worker, migrate, orgs, keys, audit, secrets, jobs, calls.

Every command that reports something prints exactly one JSON object on stdout
(logs go to stderr), so scripts can pipe it into `jq`. Each group of commands
lives in its own module; this one assembles them.
"""

from __future__ import annotations

# First of all: structlog and httpx are imported without rich (see eal.kit.lean).
from eal.kit import lean  # noqa: F401

# isort: split
import sys
from typing import Annotated

import typer

from eal import __version__
from eal.cli import audit, calls, jobs, keys, orgs, secrets, serve, users

# Tracebacks never print local variables: they hold database URLs and API keys.
# Without a command, `eal` and each group print their help and exit 0: asking
# what there is to run is not a usage error (click's no_args_is_help exits 2).
app = typer.Typer(
    help="eal: orchestration for restoration franchises.",
    invoke_without_command=True,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"eal {__version__}")
        raise typer.Exit()


def _help_without_a_command(ctx: typer.Context) -> None:
    """Print the help of the group when no command of it was named."""
    if ctx.invoked_subcommand is None:
        text = ctx.get_help()  # empty when rich has printed it already
        if text:
            typer.echo(text)
        raise typer.Exit()


def undecodable_argument(args: list[str]) -> str | None:
    """What to say about the first argument that is not UTF-8 text, naming its option; or None.

    Bytes that do not decode reach Python as lone surrogates, which no database
    text can hold: refused here, for every option of every command at once.
    """
    for index, arg in enumerate(args):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            if arg.startswith("--") and "=" in arg:
                where, arg = arg.split("=", 1)
            elif index > 0 and args[index - 1].startswith("-"):
                where = args[index - 1]
            else:
                where = f"argument {index + 1}"
            return f"{where}: {arg!r} is not UTF-8 text"
    return None


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _help_without_a_command(ctx)


app.command()(serve.migrate)
app.command()(serve.serve)
app.command("worker")(serve.worker)
for _name, _group in (
    ("orgs", orgs.app),
    ("keys", keys.app),
    ("audit", audit.app),
    ("secrets", secrets.app),
    ("jobs", jobs.app),
    ("calls", calls.app),
    ("users", users.app),
):
    app.add_typer(
        _group,
        name=_name,
        invoke_without_command=True,
        no_args_is_help=False,
        callback=_help_without_a_command,
    )


def main() -> None:
    """Entry point of the `eal` console script."""
    problem = undecodable_argument(sys.argv[1:])
    if problem is not None:
        # Before the app runs, so as `fail` would say it: one line, status 2.
        sys.stderr.write(f"error: {problem}\n")
        raise SystemExit(2)
    app()


if __name__ == "__main__":
    main()
