"""The home page: a welcome and the menu of what the user may open."""

from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import HTMLResponse

from herald.i18n import N_
from ui.web.auth import CurrentUser
from ui.web.pages import NavItem, PageRouter
from ui.web.rendering import render

router = PageRouter(min_role="viewer", nav=[NavItem("/", N_("Home"), icon="home")])


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: CurrentUser) -> HTMLResponse:
    return render(request, "home.html", now=datetime.now(UTC))
