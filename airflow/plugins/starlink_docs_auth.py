"""Require an Airflow login for the dbt docs pages that cosmos' plugin serves under /cosmos/.

Airflow mounts plugin FastAPI apps without its own authentication, so cosmos' docs pages (and the
manifest.json / catalog.json beside them) answer anyone who reaches the API server. This root
middleware answers 401 on /cosmos/* unless the request carries a valid Airflow token: the `_token`
cookie the UI keeps after login (the browser sends it with the docs iframe, same origin) or an
`Authorization: Bearer` header. Everything else passes through untouched.

Loaded by the API server from its plugins folder ($AIRFLOW_HOME/plugins in the Airflow image;
`make airflow-ui` sets AIRFLOW__CORE__PLUGINS_FOLDER to this folder). Every Airflow component
imports plugins, so this module imports nothing heavy until a request arrives.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from airflow.plugins_manager import AirflowPlugin

PROTECTED_PREFIX = "/cosmos/"


def _base_path() -> str:
    # Same rule as cosmos' plugin: the API may live under a path of [api] base_url.
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="")).path.rstrip("/")


class RequireAirflowLogin:
    """Pure ASGI middleware (no per-request overhead outside /cosmos/)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.prefix = _base_path() + PROTECTED_PREFIX

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("path", "").startswith(self.prefix):
            problem = await _login_problem(scope)
            if problem is not None:
                from starlette.responses import PlainTextResponse

                status, detail = problem
                await PlainTextResponse(f"{detail}: log in to Airflow first\n", status_code=status)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


async def _login_problem(scope: dict) -> tuple[int, str] | None:
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.core_api.security import resolve_user_from_token
    from airflow.configuration import conf
    from fastapi import HTTPException
    from starlette.requests import Request

    # SimpleAuthManager's "everyone is admin" mode has no login to require.
    if conf.getboolean("core", "simple_auth_manager_all_admins", fallback=False):
        return None
    request = Request(scope)
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    try:
        await resolve_user_from_token(token)
    except HTTPException as exc:
        return exc.status_code, str(exc.detail)
    return None


class StarlinkDocsAuthPlugin(AirflowPlugin):
    name = "starlink_docs_auth"
    fastapi_root_middlewares: ClassVar[list[dict[str, Any]]] = [
        {"middleware": RequireAirflowLogin, "name": "Login required for /cosmos/ (dbt docs)"}
    ]
