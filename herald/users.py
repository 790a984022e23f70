"""Users of the web UI and what their roles allow.

    create_user(store, "anna", "a long password", role="marketer", language="ru")
    user = authenticate(store, "anna", password)   # WrongCredentials, the same for any miss
    can("marketer", "campaigns.send")              # True
    at_least("analyst", "marketer")                # False: an analyst ranks below a marketer

Roles are ranked: viewer < analyst < marketer < admin. A higher role may do everything a
lower one may. `PERMISSIONS` names what each permission needs at least; a page or action
asks `can(role, permission)` or states its minimum role.

Passwords are hashed with argon2id (argon2-cffi's PasswordHasher defaults) and never
stored or logged in clear. `authenticate` spends the same work for an unknown user as for
a known one (it verifies against a dummy hash), so a wrong name and a wrong password look
alike, in the message and in the time taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.errors import HeraldError
from herald.i18n import LANGUAGES, N_
from herald.store.engine import session_scope
from herald.store.models import USER_ROLES, User, UserRole, utc_now

ROLES: tuple[UserRole, ...] = ("viewer", "analyst", "marketer", "admin")  # lowest first
assert set(ROLES) == set(USER_ROLES)
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
# What each permission needs at least. Later pages add theirs here.
PERMISSIONS: dict[str, UserRole] = {
    "ui.view": "viewer",  # see the web UI's pages
    "reports.view": "viewer",
    "profiles.view": "viewer",
    "segments.view": "viewer",
    "segments.edit": "analyst",
    "campaigns.edit": "marketer",
    "campaigns.send": "marketer",
    "users.manage": "admin",
}
# The roles' names as a person reads them (the UI shows `_(role)`).
ROLE_TITLES: dict[str, str] = {
    "viewer": N_("viewer"),
    "analyst": N_("analyst"),
    "marketer": N_("marketer"),
    "admin": N_("admin"),
}
MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,149}$")
_hasher = PasswordHasher()


class UserError(HeraldError):
    """A user cannot be created, found or changed; the message says why."""


class UnknownUser(UserError):
    pass


class WrongCredentials(UserError):
    """The same for an unknown user, a wrong password and a disabled user."""

    def __init__(self) -> None:
        super().__init__(N_("wrong username or password"))


@dataclass(frozen=True)
class UserInfo:
    """A user as the UI and the CLI show it (never the password hash)."""

    id: int
    username: str
    role: UserRole
    language: str
    created_at: datetime
    disabled_at: datetime | None
    last_login_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def at_least(role: str, minimum: str) -> bool:
    """True when `role` ranks at `minimum` or higher (unknown roles rank nowhere)."""
    if role not in ROLE_RANK or minimum not in ROLE_RANK:
        return False
    return ROLE_RANK[role] >= ROLE_RANK[minimum]


def can(role: str, permission: str) -> bool:
    """Whether `role` may do `permission` (a key of PERMISSIONS; unknown ones are refused)."""
    minimum = PERMISSIONS.get(permission)
    return minimum is not None and at_least(role, minimum)


def check_role(role: str) -> UserRole:
    if role not in ROLE_RANK:
        raise UserError(
            N_("unknown role {role}: use admin, marketer, analyst or viewer").format(role=role)
        )
    return ROLES[ROLE_RANK[role]]


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise UserError(N_("unknown language {language}: use en or ru").format(language=language))
    return language


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise UserError(
            N_(
                "invalid username {username}: use letters, digits and . _ @ - "
                "(up to 150, starting with a letter or digit)"
            ).format(username=username)
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            N_("the password is too short: use at least {count} characters").format(
                count=MIN_PASSWORD_LENGTH
            )
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown, so the answer takes as long."""
    return _hasher.hash("herald: no such user")


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        role=check_role(user.role),
        language=user.language,
        created_at=user.created_at,
        disabled_at=user.disabled_at,
        last_login_at=user.last_login_at,
    )


def create_user(
    store: Engine, username: str, password: str, *, role: str, language: str = "en"
) -> UserInfo:
    """A new user; UserError if the name is taken or a value is invalid."""
    user = User(
        username=check_username(username),
        password_hash=hash_password(check_password(password)),
        role=check_role(role),
        language=check_language(language),
    )
    try:
        with session_scope(store) as session:
            taken = session.scalar(select(User.id).where(User.username == username))
            if taken is not None:
                raise UserError(N_("the user {username} exists already").format(username=username))
            session.add(user)
            session.flush()
            return _info(user)
    except IntegrityError:
        raise UserError(
            N_("the user {username} exists already").format(username=username)
        ) from None


def authenticate(store: Engine, username: str, password: str) -> UserInfo:
    """The active user with this name and password, its last login noted; WrongCredentials
    otherwise (the same error, after the same work, whatever was wrong)."""
    with session_scope(store) as session:
        user = session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None else _dummy_hash()
        try:
            _hasher.verify(stored, password)
            matched = user is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            matched = False
        if user is None or not matched or user.disabled_at is not None:
            raise WrongCredentials()
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utc_now()
        return _info(user)


def get_user(store: Engine, username: str) -> UserInfo:
    with session_scope(store) as session:
        return _info(_find(session, username))


def get_user_by_id(store: Engine, user_id: int) -> UserInfo | None:
    """The user with this id, or None (a session of a deleted user)."""
    with session_scope(store) as session:
        user = session.get(User, user_id)
        return _info(user) if user is not None else None


def list_users(store: Engine) -> list[UserInfo]:
    """Every user, by name, disabled ones included."""
    with session_scope(store) as session:
        return [_info(user) for user in session.scalars(select(User).order_by(User.username))]


def set_language(store: Engine, username: str, language: str) -> UserInfo:
    check_language(language)
    with session_scope(store) as session:
        user = _find(session, username)
        user.language = language
        return _info(user)


def set_password(store: Engine, username: str, password: str) -> UserInfo:
    hashed = hash_password(check_password(password))
    with session_scope(store) as session:
        user = _find(session, username)
        user.password_hash = hashed
        return _info(user)


def disable(store: Engine, username: str) -> UserInfo:
    """The user may no longer log in (their sessions end at the next request). Idempotent."""
    with session_scope(store) as session:
        user = _find(session, username)
        if user.disabled_at is None:
            user.disabled_at = utc_now()
        return _info(user)


def _find(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UnknownUser(N_("no user named {username}").format(username=username))
    return user
