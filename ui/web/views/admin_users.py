"""Users admin (admin only): every user, a form to create one, a button to disable one."""

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from herald.i18n import N_, translate_reason
from herald.users import ROLES, UserError, create_user, disable, list_users
from ui.web.auth import CurrentUser, Store, page_language
from ui.web.pages import NavItem, PageRouter
from ui.web.rendering import render

router = PageRouter(
    min_role="admin",
    nav=[NavItem("/admin/users", N_("Users"), section=N_("Settings"), icon="users")],
)


def _page(
    request: Request, store: Store, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    values: dict[str, Any] = {"error": None, "notice": None, "form": {}}
    values.update(context)
    return render(
        request,
        "admin/users.html",
        status_code=status_code,
        users=list_users(store),
        roles=list(reversed(ROLES)),
        **values,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request, user: CurrentUser, store: Store, created: str = "", disabled: str = ""
) -> HTMLResponse:
    notice = None
    if created:
        notice = (N_("User {username} created."), created)
    elif disabled:
        notice = (N_("User {username} disabled."), disabled)
    return _page(request, store, notice=notice)


@router.post("/admin/users", response_class=HTMLResponse)
def create_user_form(
    request: Request,
    user: CurrentUser,
    store: Store,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=20)] = "viewer",
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    try:
        created = create_user(store, username.strip(), password, role=role, language=language)
    except UserError as exc:
        return _page(
            request,
            store,
            status_code=400,
            error=translate_reason(str(exc), page_language(request)),
            form={"username": username, "role": role, "language": language},
        )
    return RedirectResponse(f"/admin/users?created={created.username}", status_code=303)


@router.post("/admin/users/{username}/disable", response_class=HTMLResponse)
def disable_user_form(request: Request, user: CurrentUser, store: Store, username: str) -> Response:
    if username == user.username:
        return _page(
            request,
            store,
            status_code=400,
            error=translate_reason(N_("you cannot disable yourself"), page_language(request)),
        )
    try:
        disable(store, username)
    except UserError as exc:
        return _page(
            request,
            store,
            status_code=400,
            error=translate_reason(str(exc), page_language(request)),
        )
    return RedirectResponse(f"/admin/users?disabled={username}", status_code=303)
