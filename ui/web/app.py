"""`create_web_app(settings)`: the marketer web UI as one FastAPI app.

Routes: `/login` (GET, POST), `/logout` (POST), `/` (home), `/account/language` (POST),
`/admin/users` (admin), `/healthz` (JSON) and `/static/...` (the stylesheet, the script and
plotly.min.js from the installed plotly package). Every route but the public ones needs a
logged-in user with a role the route allows (ui/web/auth.py `access_guard`, applied to the
whole app). Errors are pages in the user's language (JSON under /api/), never a stack trace.
"""

import importlib
import logging
from pathlib import Path
from typing import Any

import plotly
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from herald.i18n import N_, translate
from herald.settings import Settings, load_settings
from herald.store.engine import create_store_engine
from herald.store.migrate import migrate
from ui.web.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    AccessRefused,
    LoginRequired,
    access_guard,
    load_secret,
    page_language,
    session_serializer,
)
from ui.web.pages import PAGE_MODULES, STATIC_PREFIX, NavItem, PageRouter, check_guarded
from ui.web.rendering import build_environment, render

STATIC_DIR = Path(__file__).resolve().parent / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
PLOTLY_PATH = f"{STATIC_PREFIX}/vendor/plotly.min.js"
log = logging.getLogger("herald.ui.web")

_ERROR_TITLES = {
    400: N_("The request could not be understood."),
    403: N_("You do not have access to this page."),
    404: N_("There is no such page."),
    405: N_("This page cannot be used this way."),
    500: N_("Something went wrong on our side. The error has been logged."),
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_response(request: Request, status: int, message: str) -> Response:
    language = _safe_language(request)
    text = translate(message, language)
    if _wants_json(request):
        return JSONResponse({"error": text}, status_code=status)
    try:
        return render(request, "error.html", status_code=status, status=status, message=message)
    except Exception:  # the store or a template is broken: still no stack trace
        log.exception("cannot render the error page")
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status)


def _safe_language(request: Request) -> str:
    try:
        return page_language(request)
    except Exception:
        return "en"


def _plotly_js() -> bytes:
    """plotly.min.js from the installed plotly package (never fetched from the internet)."""
    return PLOTLY_JS.read_bytes()


def create_web_app(settings: Settings | None = None) -> FastAPI:
    """The web UI over the operational store of `settings` (read from the environment if
    None); migrates the store and reads (or makes) the session key."""
    settings = settings or load_settings()
    store = create_store_engine(settings.database_url)
    migrate(store)

    app = FastAPI(
        title="Herald",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(access_guard)],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.sessions = session_serializer(load_secret(settings))
    app.state.templates = build_environment()
    plotly_js = _plotly_js()

    nav: list[NavItem] = []
    for name in PAGE_MODULES:
        module = importlib.import_module(name)
        routers = getattr(module, "routers", None) or [module.router]
        for router in routers:
            if not isinstance(router, PageRouter):
                raise TypeError(f"{name}: a page's router must be a ui.web.pages.PageRouter")
            app.include_router(router)
            nav.extend(router.nav)
    app.state.nav = nav

    @app.middleware("http")
    async def session_cookie(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if getattr(request.state, "session_changed", False):
            response.set_cookie(
                SESSION_COOKIE,
                app.state.sessions.dumps(request.state.session),
                max_age=SESSION_MAX_AGE_S,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
                path="/",
            )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": translate(exc.message, _safe_language(request))}, status_code=401
            )
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET" or target == "/":
            return RedirectResponse("/login", status_code=303)
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(AccessRefused)
    async def refused(request: Request, exc: AccessRefused) -> Response:
        return _error_response(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        return _error_response(request, status, _ERROR_TITLES.get(status, _ERROR_TITLES[400]))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(request, 400, _ERROR_TITLES[400])

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("error in %s %s", request.method, request.url.path, exc_info=exc)
        return _error_response(request, 500, _ERROR_TITLES[500])

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Before the /static mount, so it is found first.
    @app.get(PLOTLY_PATH, include_in_schema=False)
    def plotly_script() -> Response:
        return Response(
            plotly_js,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
    check_guarded(app, access_guard)
    return app
