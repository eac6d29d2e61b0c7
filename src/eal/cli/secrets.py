"""`eal secrets ...`: the keys that encrypt stored secrets, and re-encrypting under the newest.

Adding a key and rewriting what is stored are two commands, not one, because
running processes keep the keys they started with: values rewritten under a
key that a running `eal serve` or `eal worker` does not know yet would be
unreadable to it (failed webhook deliveries, CRM pushes refused, idempotent
replays refused) until it restarts. Between the two commands, every process
is restarted.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from eal.cli.common import emit, fail, load_settings, run_with_runtime

if TYPE_CHECKING:
    from eal.rotation import RotationReport
    from eal.runtime import Runtime

app = typer.Typer(
    help="Keys that encrypt stored secrets (webhook secrets, vendor credentials).",
)


@app.command("rotate")
def rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rows read and locked per statement.")
    ] = 500,
) -> None:
    """Re-encrypt every stored secret under the newest key.

    Webhook signing secrets (current and previous), integration credentials in
    organization settings and stored Idempotency-Key responses are rewritten
    when the newest key does not open them yet; what it opens already is left
    as it is, so running again rewrites nothing. Each organization with values
    rewritten gets one `secrets.rotated` audit entry (counts only).

    Prints the counts per kind. Exit status 0: everything is under the newest
    key; 1: some value no configured key opens (listed, left untouched).

    Keys are EAL_SECRET_KEY (comma-separated, newest first) or, when it is
    unset, EAL_DATA_DIR/secret.key (one per line, newest first). To rotate:

    1. Put the new key first: EAL_SECRET_KEY="new,old", or `eal secrets add-key`.
    2. Restart every `eal serve` and `eal worker` (on every host): they encrypt
       with the new key from then on and still open the old one.
    3. Run `eal secrets rotate` until it exits 0.
    4. Remove the old key (EAL_SECRET_KEY="new", or every line of secret.key
       but the first) and restart.
    """
    from eal.kit.secretbox import SecretBox, key_file, read_key_file

    settings = load_settings()
    if not settings.secret_key and not read_key_file(settings.data_dir):
        # Rather than generating a key nothing was ever encrypted with.
        fail(
            f"no secret key: EAL_SECRET_KEY is unset and {key_file(settings.data_dir).absolute()} "
            "holds no key",
            2,
        )
    try:
        SecretBox.from_settings(settings.secret_key, settings.data_dir)
    except ValueError as exc:
        fail(str(exc), 2)

    async def work(runtime: Runtime) -> RotationReport:
        from eal.rotation import rotate_stored_secrets

        # No transaction here: each organization's pass commits on its own.
        async with runtime.db.system.connect() as conn:
            return await rotate_stored_secrets(
                conn,
                runtime.secret_box,
                batch_size=batch_size,
                correlation_id=f"cli_{uuid.uuid4().hex[:12]}",
                clock=runtime.clock,
            )

    report = run_with_runtime(work)
    emit(report.as_dict())
    if not report.complete:
        raise typer.Exit(1)


@app.command("add-key")
def add_key() -> None:
    """Generate a new key and put it first in EAL_DATA_DIR/secret.key.

    For deployments whose key lives in the data directory (EAL_SECRET_KEY
    unset); with EAL_SECRET_KEY set, the operator manages the keys and this
    command refuses to run. The older keys stay in the file, after the new
    one: they still open what they encrypted. The key itself is not printed.

    Running processes keep the keys they started with, so:

    1. `eal secrets add-key`
    2. Restart every `eal serve` and `eal worker` using this data directory.
    3. `eal secrets rotate`, until it exits 0.
    4. Then the older keys may be deleted from secret.key (keep the first line).
    """
    from eal.kit.secretbox import add_key_to_file, key_file

    settings = load_settings()
    path = key_file(settings.data_dir).absolute()
    if settings.secret_key:
        fail(
            "EAL_SECRET_KEY is set, so the keys are yours to manage: put the new key first "
            'in it (EAL_SECRET_KEY="new,old"), restart every eal serve and eal worker, '
            "then run `eal secrets rotate`",
            2,
        )
    try:
        keys = add_key_to_file(settings.data_dir)
    except FileNotFoundError:
        fail(f"no key file at {path}: the service creates it when it first starts", 2)
    except OSError as exc:
        fail(f"cannot update {path}: {exc}", 1)
    emit(
        {
            "status": "ok",
            "key_file": str(path),
            "keys": len(keys),
            "next": "restart every eal serve and eal worker, then run `eal secrets rotate`",
        }
    )
