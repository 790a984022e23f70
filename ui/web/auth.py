"""Sessions, CSRF and the access check every route of the web UI goes through.

The session is a cookie (`herald_session`) holding a small JSON document signed with
itsdangerous (HttpOnly, SameSite=Lax, Secure over HTTPS): the user's id, a CSRF token and,
before login, the language picked on the login page. The user is read from the store on
every request, so a disabled user's session ends at their next request.

`access_guard` is a dependency of the whole app (ui/web/app.py), so every route has it:
a path in `PUBLIC_PATHS` passes; any other needs a logged-in, active user whose role ranks
at least the route's `min_role` (ui/web/pages.py). Every POST, PUT, PATCH and DELETE must
carry the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`).
"""

import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine

from herald.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, language_of
from herald.settings import Settings
from herald.users import UserInfo, at_least, get_user_by_id
from ui.web.pages import is_public, route_min_role

SESSION_COOKIE = "herald_session"
SESSION_MAX_AGE_S = 14 * 24 * 3600
SECRET_FILE = "ui-secret"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SALT = "herald.ui.session"


class AccessRefused(Exception):
    """The request may not go on; the app turns it into a page (or JSON under /api/)."""

    status = 403
    message = N_("You do not have access to this page.")


class LoginRequired(AccessRefused):
    status = 401
    message = N_("Please log in.")


class Forbidden(AccessRefused):
    pass


class CsrfRefused(AccessRefused):
    message = N_("The form has expired. Reload the page and try again.")


def load_secret(settings: Settings) -> str:
    """HERALD_UI_SECRET, or the key in HERALD_HOME/ui-secret (made once, mode 0600)."""
    if settings.ui_secret:
        return settings.ui_secret
    path: Path = settings.home / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip()


def session_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def session(request: Request) -> dict[str, Any]:
    """The request's session document (empty when there is none or it is not valid)."""
    state = request.state
    if not hasattr(state, "session"):
        data: dict[str, Any] = {}
        raw = request.cookies.get(SESSION_COOKIE)
        if raw:
            serializer: URLSafeTimedSerializer = request.app.state.sessions
            try:
                loaded = serializer.loads(raw, max_age=SESSION_MAX_AGE_S)
                data = loaded if isinstance(loaded, dict) else {}
            except BadSignature:
                data = {}
        state.session = data
        state.session_changed = False
    result: dict[str, Any] = state.session
    return result


def replace_session(request: Request, data: dict[str, Any]) -> None:
    """Make `data` the session; the response carries the new cookie."""
    request.state.session = data
    request.state.session_changed = True
    request.state.user = None
    request.state.user_loaded = False


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made (and the cookie sent) when there is none yet."""
    data = session(request)
    token = data.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        replace_session(request, {**data, "csrf": token})
    return token


def request_user(request: Request) -> UserInfo | None:
    """The logged-in, active user of this request, or None."""
    state = request.state
    if getattr(state, "user_loaded", False):
        user: UserInfo | None = state.user
        return user
    user = None
    user_id = session(request).get("uid")
    if isinstance(user_id, int):
        store: Engine = request.app.state.store
        found = get_user_by_id(store, user_id)
        if found is not None and found.active:
            user = found
    state.user = user
    state.user_loaded = True
    return user


def page_language(request: Request) -> str:
    """The user's language; before login, the one picked on the login page, else the
    browser's (Accept-Language)."""
    user = request_user(request)
    if user is not None:
        return user.language
    picked = session(request).get("lang")
    if picked in LANGUAGES:
        return str(picked)
    return language_of(request.headers.get("accept-language")) or DEFAULT_LANGUAGE


def log_in(request: Request, user: UserInfo) -> None:
    """Start a new session for `user` (a new CSRF token too: no fixation)."""
    replace_session(request, {"uid": user.id, "csrf": secrets.token_urlsafe(32)})


def log_out(request: Request) -> None:
    replace_session(request, {"csrf": secrets.token_urlsafe(32)})


async def check_csrf(request: Request) -> None:
    expected = session(request).get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not (
        isinstance(expected, str)
        and expected
        and sent
        and secrets.compare_digest(expected.encode(), sent.encode())
    ):
        raise CsrfRefused()


async def access_guard(request: Request) -> None:
    """Applied to every route of the app: deny unless public or the user's role may."""
    route = request.scope.get("route")
    # The path as requested (a route's own path lacks its router's prefix).
    path: str = request.scope.get("path", "")
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if not is_public(path):
        user = request_user(request)
        if user is None:
            raise LoginRequired()
        if not at_least(user.role, route_min_role(route)):
            raise Forbidden()
    if request.method not in SAFE_METHODS:
        await check_csrf(request)


def current_user(request: Request) -> UserInfo:
    """The logged-in user (the guard has made sure there is one on a non-public route)."""
    user = request_user(request)
    if user is None:
        raise LoginRequired()
    return user


def store_of(request: Request) -> Engine:
    store: Engine = request.app.state.store
    return store


CurrentUser = Annotated[UserInfo, Depends(current_user)]
Store = Annotated[Engine, Depends(store_of)]
