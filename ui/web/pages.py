"""How a page plugs into the web UI: a `PageRouter` with its minimum role and its menu items.

A page is a module under `ui/web/views/` with a module-level `router`:

    from fastapi import Request
    from fastapi.responses import HTMLResponse

    from herald.i18n import N_
    from ui.web.pages import NavItem, PageRouter
    from ui.web.rendering import render

    router = PageRouter(
        min_role="analyst",
        nav=[NavItem("/reports", N_("Reports"), section=N_("Analytics"), icon="chart")],
    )

    @router.get("/reports", response_class=HTMLResponse)
    def reports(request: Request) -> HTMLResponse:
        return render(request, "reports.html", charts=True, total=1234)

(or `routers = [...]`, one PageRouter per minimum role) and its module name added to
`PAGE_MODULES` below; `create_web_app` includes every router
and the navigation shows an item to the users whose role may open it.

Access is denied by default: every route of the app needs a logged-in, active user whose
role ranks at least the route's `min_role` (a `PageRouter`'s; `admin` for a route added any
other way), unless its path is in `PUBLIC_PATHS`. The check is a dependency of the whole
app (ui/web/auth.py), so a new route cannot leave it out.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from herald.i18n import N_
from herald.store.models import UserRole
from herald.users import ROLE_RANK, at_least

# The pages of the UI, in menu order: each module has a `router` (a PageRouter).
PAGE_MODULES: tuple[str, ...] = (
    "ui.web.views.home",
    "ui.web.views.account",
    "ui.web.views.reports",
    "ui.web.views.admin_users",
)

# Paths anyone may open without logging in (besides the /static files).
PUBLIC_PATHS: frozenset[str] = frozenset({"/login", "/healthz"})
STATIC_PREFIX = "/static"
# The role a route needs when nobody said (a route not made by a PageRouter): the highest.
UNDECLARED_MIN_ROLE: UserRole = "admin"

# Menu sections, in order; a NavItem names one of these (or a new one, shown last).
SECTIONS: tuple[str, ...] = (N_("Overview"), N_("Customers"), N_("Marketing"), N_("Settings"))


@dataclass(frozen=True)
class NavItem:
    """A menu entry. `title` and `section` are English, marked with N_ (translated when
    shown); the item is shown to users whose role ranks at least `min_role` (by default the
    router's). `icon` is a short name the stylesheet may draw (optional)."""

    path: str
    title: str
    section: str = SECTIONS[0]
    min_role: UserRole | None = None
    icon: str = ""


class PageRoute(APIRoute):
    """A route that knows the least role allowed to open it."""

    min_role: ClassVar[UserRole] = UNDECLARED_MIN_ROLE


def _route_class(min_role: UserRole) -> type[PageRoute]:
    return type(f"{min_role.title()}PageRoute", (PageRoute,), {"min_role": min_role})


class PageRouter(APIRouter):
    """An APIRouter whose routes need at least `min_role`, with the menu items it adds."""

    def __init__(self, *, min_role: UserRole, nav: Sequence[NavItem] = (), **kwargs: Any) -> None:
        if min_role not in ROLE_RANK:
            raise ValueError(f"unknown role {min_role!r}")
        super().__init__(route_class=_route_class(min_role), **kwargs)
        self.min_role: UserRole = min_role
        self.nav: list[NavItem] = [
            item
            if item.min_role
            else NavItem(item.path, item.title, item.section, min_role, item.icon)
            for item in nav
        ]


def route_min_role(route: object) -> UserRole:
    """The least role a route needs (the strictest when it does not say)."""
    return getattr(route, "min_role", UNDECLARED_MIN_ROLE)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path == STATIC_PREFIX or path.startswith(STATIC_PREFIX + "/")


@dataclass(frozen=True)
class NavSection:
    title: str
    items: tuple[NavItem, ...]


def navigation(items: Sequence[NavItem], role: str) -> list[NavSection]:
    """The menu a user of `role` sees: the items their role may open, grouped by section."""
    visible = [item for item in items if at_least(role, item.min_role or UNDECLARED_MIN_ROLE)]
    order = list(SECTIONS) + [
        s for s in dict.fromkeys(i.section for i in visible) if s not in SECTIONS
    ]
    return [
        NavSection(section, tuple(item for item in visible if item.section == section))
        for section in order
        if any(item.section == section for item in visible)
    ]


@dataclass(frozen=True)
class AppRoute:
    """A route of the app as it is served: its full path, methods and the route object."""

    path: str
    methods: frozenset[str]
    route: BaseRoute
    dependencies: tuple[object, ...]


def app_routes(app: FastAPI) -> list[AppRoute]:
    """Every route of `app`, those of included routers too, with its full path."""
    found: list[AppRoute] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # an included router (FastAPI >= 0.160 keeps them apart)
            for context in contexts():
                original = context.original_route
                found.append(
                    AppRoute(
                        context.path,
                        frozenset(getattr(original, "methods", None) or ()),
                        original,
                        tuple(d.dependency for d in getattr(context, "dependencies", ()) or ()),
                    )
                )
            continue
        found.append(
            AppRoute(
                getattr(route, "path", ""),
                frozenset(getattr(route, "methods", None) or ()),
                route,
                tuple(d.dependency for d in getattr(route, "dependencies", ()) or ()),
            )
        )
    return found


def check_guarded(app: FastAPI, guard: object) -> None:
    """Refuse to build an app with a route the access check does not cover: anything but
    FastAPI routes carrying `guard`, and the /static mount."""
    for entry in app_routes(app):
        if isinstance(entry.route, Mount) and entry.path == STATIC_PREFIX:
            continue
        if not isinstance(entry.route, APIRoute) or guard not in entry.dependencies:
            raise RuntimeError(
                f"web UI route {entry.path} bypasses the access check: add pages with a "
                "PageRouter (ui/web/pages.py), not with mounts or sub-applications"
            )
