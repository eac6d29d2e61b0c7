"""Console users, one-time sign-in links and sessions.

Only hashes of links and session cookies are stored. A link is redeemed once,
within its lifetime, into a session; a session lasts until it is revoked or
left idle for SESSION_IDLE. A request finds its session through
`eal_console_session`, which also makes the session's organization the
transaction's tenant, so every page reads under row-level security like the API.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from eal.console.models import console_links, console_sessions, console_users
from eal.console.roles import Role
from eal.db.tx import Tx
from eal.errors import Conflict, NotFound
from eal.kit.identity import Environment

#: A session left alone this long is over.
SESSION_IDLE = timedelta(hours=12)
#: How long a link from the command line or an invite stays valid.
LINK_TTL = timedelta(hours=24)
#: How long a link sent by email stays valid.
EMAIL_LINK_TTL = timedelta(minutes=30)
#: Prefixes that tell a link token and a session cookie apart at a glance.
LINK_PREFIX = "csl_"
SESSION_PREFIX = "css_"

_SESSION = sa.text(
    "SELECT session_id, organization_id, user_id, api_key_id, role, csrf_token, email, "
    "environment "
    "FROM eal_console_session(:hash, :now, :idle)"
)
_LINK_TENANT = sa.text("SELECT eal_console_link_tenant(:hash)")
_USERS_BY_EMAIL = sa.text("SELECT user_id, organization_id FROM eal_console_users_by_email(:email)")


def token_hash(token: str) -> bytes:
    """The stored form of a link token or session cookie."""
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: who, for which organization, with which role."""

    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    role: Role
    csrf_token: str
    email: str | None
    environment: Environment = Environment.LIVE
    """A session opened with a test key acts like it: side effects are simulated."""

    @property
    def who(self) -> str:
        """How the pages name the person signed in."""
        return self.email or "admin API key"


@dataclass(frozen=True, slots=True)
class User:
    """A console user."""

    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    role: Role


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a sign-in link opens, before it is used."""

    organization_id: uuid.UUID
    user_id: uuid.UUID
    email: str


def _user(row: Any) -> User:
    return User(row.id, row.organization_id, row.email, Role(row.role))


async def create_user(tx: Tx, email: str, role: Role) -> User:
    """Add a user to the transaction's tenant (409 when the address is taken there)."""
    values = {
        "organization_id": tx.actor.organization_id,
        "email": email.strip().lower(),
        "role": role.value,
        "created_at": tx.now(),
    }
    try:
        async with tx.conn.begin_nested():
            row = (
                await tx.conn.execute(
                    sa.insert(console_users).values(values).returning(console_users)
                )
            ).one()
    except IntegrityError as exc:
        raise Conflict(
            f"{values['email']} is already a console user of this organization.",
            details={"email": values["email"]},
        ) from exc
    return _user(row)


async def list_users(tx: Tx) -> list[tuple[User, bool]]:
    """The tenant's console users, with whether each is disabled, by email."""
    rows = await tx.conn.execute(
        sa.select(console_users)
        .where(console_users.c.organization_id == tx.actor.organization_id)
        .order_by(console_users.c.email)
    )
    return [(_user(row), row.disabled_at is not None) for row in rows]


async def disable_user(tx: Tx, user_id: uuid.UUID) -> None:
    """Stop a user from signing in; their sessions end with their next request."""
    done = await tx.conn.execute(
        sa.update(console_users)
        .where(
            console_users.c.id == user_id,
            console_users.c.organization_id == tx.actor.organization_id,
            console_users.c.disabled_at.is_(None),
        )
        .values(disabled_at=tx.now())
        .returning(console_users.c.id)
    )
    if done.first() is None:
        raise NotFound("No such active console user.")


async def find_user(tx: Tx, email: str) -> User | None:
    """The tenant's enabled user with this address."""
    row = (
        await tx.conn.execute(
            sa.select(console_users).where(
                console_users.c.organization_id == tx.actor.organization_id,
                console_users.c.email == email.strip().lower(),
                console_users.c.disabled_at.is_(None),
            )
        )
    ).first()
    return _user(row) if row is not None else None


async def users_with_email(tx: Tx, email: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(user id, organization id) of every enabled user with this address, any organization."""
    rows = await tx.conn.execute(_USERS_BY_EMAIL, {"email": email.strip()})
    return [(row.user_id, row.organization_id) for row in rows]


async def issue_link(tx: Tx, user_id: uuid.UUID, ttl: timedelta = LINK_TTL) -> str:
    """A new one-time sign-in token for a user of the transaction's tenant."""
    token = LINK_PREFIX + secrets.token_urlsafe(32)
    now = tx.now()
    await tx.conn.execute(
        sa.insert(console_links).values(
            token_hash=token_hash(token),
            organization_id=tx.tenant,
            user_id=user_id,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


async def _open_link(tx: Tx, token: str, *, lock: bool) -> Any:
    """The link row (its organization made the tenant); 404 for an unknown one,
    409 for a used or expired one."""
    hashed = token_hash(token)
    organization_id = await tx.conn.scalar(_LINK_TENANT, {"hash": hashed})
    if organization_id is None:
        raise NotFound("This sign-in link does not exist.")
    tx.tenant = organization_id
    query = (
        sa.select(console_links, console_users.c.email, console_users.c.role)
        .join(console_users, console_users.c.id == console_links.c.user_id)
        .where(console_links.c.token_hash == hashed)
    )
    if lock:
        query = query.with_for_update(of=console_links)
    row = (await tx.conn.execute(query)).one()
    if row.used_at is not None:
        raise Conflict("This sign-in link has been used already.", details={"reason": "used"})
    if row.expires_at <= tx.now():
        raise Conflict("This sign-in link has expired.", details={"reason": "expired"})
    return row


async def link_target(tx: Tx, token: str) -> LinkTarget:
    """Who a link signs in (without using it)."""
    row = await _open_link(tx, token, lock=False)
    return LinkTarget(row.organization_id, row.user_id, row.email)


async def redeem_link(tx: Tx, token: str) -> tuple[str, Session]:
    """Use a link once: a new session for its user; the cookie value and the session."""
    row = await _open_link(tx, token, lock=True)
    await tx.conn.execute(
        sa.update(console_links)
        .where(console_links.c.token_hash == row.token_hash)
        .values(used_at=tx.now())
    )
    return await open_session(
        tx, row.organization_id, Role(row.role), user_id=row.user_id, email=row.email
    )


async def open_session(
    tx: Tx,
    organization_id: uuid.UUID,
    role: Role,
    *,
    user_id: uuid.UUID | None = None,
    api_key_id: uuid.UUID | None = None,
    email: str | None = None,
    environment: Environment = Environment.LIVE,
) -> tuple[str, Session]:
    """A new session (for a user, or for an API key); the cookie value and the session."""
    cookie = SESSION_PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = tx.now()
    session_id = uuid.uuid4()
    await tx.conn.execute(
        sa.insert(console_sessions).values(
            id=session_id,
            token_hash=token_hash(cookie),
            organization_id=organization_id,
            user_id=user_id,
            api_key_id=api_key_id,
            role=role.value,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
        )
    )
    return cookie, Session(
        session_id, organization_id, user_id, api_key_id, role, csrf, email, environment
    )


async def session_of(tx: Tx, cookie: str) -> Session | None:
    """The live session a cookie names (its organization made the tenant), or None."""
    row = (
        await tx.conn.execute(
            _SESSION, {"hash": token_hash(cookie), "now": tx.now(), "idle": SESSION_IDLE}
        )
    ).first()
    if row is None:
        return None
    tx.tenant = row.organization_id
    return Session(
        row.session_id,
        row.organization_id,
        row.user_id,
        row.api_key_id,
        Role(row.role),
        row.csrf_token,
        row.email,
        Environment(row.environment),
    )


async def revoke_session(tx: Tx, session_id: uuid.UUID) -> None:
    """End a session (signing out)."""
    await tx.conn.execute(
        sa.update(console_sessions)
        .where(console_sessions.c.id == session_id, console_sessions.c.revoked_at.is_(None))
        .values(revoked_at=tx.now())
    )
