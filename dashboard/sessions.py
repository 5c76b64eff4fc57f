"""Server-side dashboard sessions and sign-in throttling (keyword-only, caller commits).

Sessions: the browser's signed cookie carries only a random token; the row in
``user_sessions`` (keyed by the token's SHA-256) says who is signed in, until when, and
whether the session was revoked. Every request resolves the token again
(:func:`resolve_session`), so logout, ``posterqa users disable`` and a password change
end a session at once, in every dashboard process.

Throttling: every sign-in attempt is written to ``login_failures`` (``pending``) *before*
its password is checked; a right password deletes the row, a wrong one makes it a
failure. A user name with ``max_user`` rows, or a client address with ``max_address``
failures, within the last ``window_s`` seconds is locked: further attempts are refused
without checking the password until enough rows age out of the window. Counting rows in
the database works across processes and dashboard workers; writing the attempt first
lets parallel guesses at one user name see each other, so a burst gets no more password
checks than the maximum. An address counts only finished failures: people signing in
at the same time behind one proxy do not lock each other out.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dashboard import crud
from posterqa.settings import Settings
from storage.models import AuditEvent, LoginFailure, User, UserSession, utcnow

log = logging.getLogger(__name__)

#: ``last_seen_at`` is written at most this often per session (not on every request).
LAST_SEEN_EVERY_S = 60
#: Expired session rows are kept this long (who was signed in from where), then pruned.
KEEP_EXPIRED_S = 7 * 24 * 3600
MAX_USERNAME = 128
MAX_ADDRESS = 64


def token_hash(token: str) -> str:
    """The stored form of a session token (SHA-256, hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def password_stamp(password_hash: str) -> str:
    """A digest of the user's password hash: it changes whenever the password does."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- sessions


def start_session(session: Session, *, user_id: int, password_hash: str,
                  address: str | None, lifetime_s: float,
                  now: datetime | None = None) -> str:
    """Create a session row for ``user_id``; returns the token for the cookie.

    Rows of sessions that expired more than ``KEEP_EXPIRED_S`` ago are deleted.
    """
    now = now or utcnow()
    session.execute(delete(UserSession).where(
        UserSession.expires_at < now - timedelta(seconds=KEEP_EXPIRED_S)))
    token = secrets.token_urlsafe(32)
    session.add(UserSession(
        token_hash=token_hash(token), user_id=user_id,
        password_stamp=password_stamp(password_hash),
        address=(address or "")[:MAX_ADDRESS] or None, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(seconds=lifetime_s),
    ))
    session.flush()
    return token


def resolve_session(session: Session, *, token: str,
                    now: datetime | None = None) -> crud.UserView | None:
    """The user of a live session, or None when the token is unknown, revoked, expired,
    its user disabled, or the user's password changed since it began.

    Refreshes ``last_seen_at`` (at most every ``LAST_SEEN_EVERY_S``) and commits that.
    """
    now = now or utcnow()
    row = session.execute(
        select(UserSession, User).join(User, UserSession.user_id == User.id)
        .where(UserSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    us, user = row
    if us.revoked_at is not None or us.expires_at <= now or user.disabled_at is not None:
        return None
    if not secrets.compare_digest(us.password_stamp, password_stamp(user.password_hash)):
        return None
    if (now - us.last_seen_at).total_seconds() >= LAST_SEEN_EVERY_S:
        session.execute(update(UserSession).where(UserSession.id == us.id)
                        .values(last_seen_at=now))
        session.commit()
    return crud.UserView(user.id, user.username, user.role)


def revoke_session(session: Session, *, token: str, reason: str,
                   now: datetime | None = None) -> int | None:
    """Revoke the session of ``token``; returns its user id (None if unknown or already
    revoked)."""
    us = session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))
    if us is None or us.revoked_at is not None:
        return None
    us.revoked_at = now or utcnow()
    us.revoked_reason = reason[:32]
    session.flush()
    return us.user_id


def revoke_user_sessions(session: Session, *, user_id: int, reason: str,
                         now: datetime | None = None) -> int:
    """Revoke every live session of ``user_id``; returns how many there were."""
    now = now or utcnow()
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
               UserSession.expires_at > now)
        .values(revoked_at=now, revoked_reason=reason[:32])
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


# ---------------------------------------------------------------- throttling


@dataclass(frozen=True)
class Throttle:
    """How many failed sign-ins (per user name, per address) a window tolerates."""

    window_s: int = 900
    max_user: int = 5
    max_address: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        return cls(window_s=settings.dashboard_login_window_s,
                   max_user=settings.dashboard_login_max_user_failures,
                   max_address=settings.dashboard_login_max_address_failures)


@dataclass(frozen=True)
class Lockout:
    """Sign-ins refused for ``scope`` (``user`` or ``address``) for ``retry_after_s``."""

    scope: str
    retry_after_s: int


def clean_username(username: str) -> str:
    return username[:MAX_USERNAME]


def clean_address(address: str | None) -> str:
    return (address or "unknown")[:MAX_ADDRESS]


def _scopes(throttle: Throttle, username: str, address: str | None
            ) -> list[tuple[str, Any, int]]:
    """(scope, condition, maximum) of each lockout.

    The user name counts its attempts still being checked as failures too (so parallel
    guesses at one account see each other); the address counts only real failures, so
    many people signing in at once behind one proxy do not lock each other out.
    """
    return [("user", LoginFailure.username == clean_username(username), throttle.max_user),
            ("address", (LoginFailure.address == clean_address(address))
             & LoginFailure.pending.is_(False), throttle.max_address)]


def _limit_row_at(session: Session, cond: Any, limit: int, cutoff: datetime) -> datetime | None:
    """When the ``limit``-th newest failure in the window happened (None: fewer exist)."""
    return session.scalar(
        select(LoginFailure.at).where(cond, LoginFailure.at > cutoff)
        .order_by(LoginFailure.at.desc()).offset(limit - 1).limit(1)
    )


def _wait_s(at: datetime, cutoff: datetime) -> int:
    return max(1, math.ceil((at - cutoff).total_seconds()))


def check_lockout(session: Session, *, username: str, address: str | None,
                  throttle: Throttle, now: datetime | None = None) -> Lockout | None:
    """The lockout in force for this user name or address, if any: ``max`` failures
    inside the window. It ends when the ``max``-th newest ages out of the window."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=throttle.window_s)
    found: Lockout | None = None
    for scope, cond, limit in _scopes(throttle, username, address):
        at = _limit_row_at(session, cond, limit, cutoff)
        if at is not None and (found is None or _wait_s(at, cutoff) > found.retry_after_s):
            found = Lockout(scope, _wait_s(at, cutoff))
    return found


def beaten_by_parallel_attempts(session: Session, *, username: str, throttle: Throttle,
                                now: datetime | None = None) -> Lockout | None:
    """After this attempt's own row is written: are there more than ``max_user`` rows of
    the user name in the window (parallel guesses)? Then this one is not checked."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=throttle.window_s)
    [(_, cond, limit), _] = _scopes(throttle, username, None)
    if _limit_row_at(session, cond, limit + 1, cutoff) is None:
        return None
    at = _limit_row_at(session, cond, limit, cutoff)
    return Lockout("user", _wait_s(at, cutoff) if at else throttle.window_s)


def note_attempt(session: Session, *, username: str, address: str | None,
                 throttle: Throttle, now: datetime | None = None) -> int:
    """Write the attempt as a pending failure (before the password check); returns its
    row id. Also deletes failures that left the window."""
    now = now or utcnow()
    session.execute(delete(LoginFailure).where(
        LoginFailure.at <= now - timedelta(seconds=throttle.window_s)))
    row = LoginFailure(at=now, username=clean_username(username),
                       address=clean_address(address), pending=True)
    session.add(row)
    session.flush()
    return row.id


def forget_attempt(session: Session, *, attempt_id: int) -> None:
    """The attempt does not count (refused unchecked, or the account is disabled)."""
    session.execute(delete(LoginFailure).where(LoginFailure.id == attempt_id))


def attempt_succeeded(session: Session, *, attempt_id: int, username: str) -> None:
    """A right password: the user name's failures are forgotten (the address's are not;
    other attempts of the name still being checked keep their rows)."""
    session.execute(delete(LoginFailure).where(
        (LoginFailure.id == attempt_id)
        | ((LoginFailure.username == clean_username(username))
           & LoginFailure.pending.is_(False))))


def lockout_subject(scope: str, *, username: str, address: str | None) -> str:
    """The audit events' ``entity_id`` of a lockout: ``user:NAME`` or ``address:ADDR``."""
    return (f"user:{clean_username(username)}" if scope == "user"
            else f"address:{clean_address(address)}")


def attempt_failed(session: Session, *, attempt_id: int, username: str,
                   address: str | None, throttle: Throttle,
                   now: datetime | None = None) -> list[Lockout]:
    """A wrong password: the attempt's row becomes a failure. Returns the lockouts to
    report in the audit log.

    A scope is reported when it is now locked and no ``login_lockout`` event for it was
    written within the window: one event per lockout, not one per failure, also when
    parallel failures race past the maximum together.
    """
    session.execute(update(LoginFailure).where(LoginFailure.id == attempt_id)
                    .values(pending=False))
    now = now or utcnow()
    cutoff = now - timedelta(seconds=throttle.window_s)
    started = []
    for scope, cond, limit in _scopes(throttle, username, address):
        if _limit_row_at(session, cond, limit, cutoff) is None:
            continue
        subject = lockout_subject(scope, username=username, address=address)
        reported = session.scalar(
            select(AuditEvent.id).where(
                AuditEvent.entity == "login", AuditEvent.entity_id == subject,
                AuditEvent.action == "login_lockout", AuditEvent.at > cutoff,
            ).limit(1)
        )
        if reported is None:
            started.append(Lockout(scope, throttle.window_s))
    return started


def clear_failures(session: Session, *, username: str) -> int:
    """Forget the failed sign-ins of ``username`` (``posterqa users passwd`` unlocks)."""
    result = session.execute(delete(LoginFailure).where(
        LoginFailure.username == clean_username(username)))
    return int(result.rowcount or 0)
