"""The `eal` command line: serve, worker, migrate, orgs, keys, audit, secrets, jobs.

Every command that reports something prints exactly one JSON object on stdout
(logs go to stderr), so scripts can pipe it into `jq`. Each group of commands
lives in its own module; this one assembles them.
"""

from __future__ import annotations

import typer

from eal.cli import audit, jobs, keys, orgs, secrets, serve

# Tracebacks never print local variables: they hold database URLs and API keys.
app = typer.Typer(
    help="eal: orchestration for restoration franchises.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command()(serve.migrate)
app.command()(serve.serve)
app.command("worker")(serve.worker)
app.add_typer(orgs.app, name="orgs")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(secrets.app, name="secrets")
app.add_typer(jobs.app, name="jobs")


def main() -> None:
    """Entry point of the `eal` console script."""
    app()


if __name__ == "__main__":
    main()
