"""Mount the pages on the API's app: their routers, and the answers to a missing sign-in
(a redirect to /login) and to a refusal (an HTML page with its 4xx)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from web import accounts_pages, inbox, indicator_pages, login, office, plan_pages, scores_pages
from web.render import render
from web.sessions import LoginRequired, PageRefused, optional_user


def install(app: FastAPI) -> None:
    for module in (login, office, scores_pages, inbox, accounts_pages, indicator_pages, plan_pages):
        app.include_router(module.router)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        # No icon is served: answering 204 keeps browsers from logging a 404 on every page.
        return Response(status_code=204)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(PageRefused)
    async def refused(request: Request, exc: PageRefused) -> Response:
        async with request.app.state.sessions() as session:
            user = await optional_user(request, session)
        return render(request, "error.html", user, status_code=exc.status_code, message=exc.message)
