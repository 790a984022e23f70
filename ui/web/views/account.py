"""Logging in and out, and the language of the UI (kept per user in `users.language`)."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from herald.i18n import LANGUAGES
from herald.users import WrongCredentials, authenticate, set_language
from ui.web.auth import CurrentUser, Store, log_in, log_out, replace_session, request_user, session
from ui.web.pages import PageRouter
from ui.web.rendering import render

router = PageRouter(min_role="viewer")


def safe_next(target: str | None) -> str:
    """A local path to go on to after a form (never another site)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(character) < 32 for character in target)  # browsers drop tabs, newlines
    ):
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", lang: str | None = None) -> Response:
    """The login form, in the language picked here (?lang=ru) or the browser's."""
    if lang in LANGUAGES:
        replace_session(request, {**session(request), "lang": lang})
    if request_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", next=safe_next(next), error=None, username="")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    store: Store,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    try:
        user = authenticate(store, username.strip(), password)
    except WrongCredentials as exc:
        return render(
            request,
            "login.html",
            status_code=400,
            next=safe_next(next),
            error=str(exc),
            username=username,
        )
    log_in(request, user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, user: CurrentUser) -> Response:
    log_out(request)
    return RedirectResponse("/login", status_code=303)


@router.post("/account/language")
def change_language(
    request: Request,
    user: CurrentUser,
    store: Store,
    language: Annotated[str, Form()],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if language in LANGUAGES:
        set_language(store, user.username, language)
    return RedirectResponse(safe_next(next), status_code=303)
