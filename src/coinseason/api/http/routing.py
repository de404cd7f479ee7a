"""The route template of a request the front layer answered before routing (a refusal: 401, 413, 429, 503), so
that metrics and the access log name ``/v1/season/latest`` rather than ``<unmatched>``.

Paths are the client's: the map from path to template is bounded (emptied when full), and a path no route matches
stays unnamed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

__all__ = ["RouteNames"]

MAX_PATHS = 4096


class RouteNames:
    """The template of the route matching a request's path, or None; ``routes`` is read at each miss, so routes
    added after this is made are seen."""

    def __init__(self, routes: Callable[[], Sequence[BaseRoute]], *, max_paths: int = MAX_PATHS) -> None:
        self._routes = routes
        self._known: dict[tuple[str, str], str | None] = {}
        self._max_paths = max_paths

    def __call__(self, scope: Scope) -> str | None:
        key = (scope["type"], scope["path"])
        if key in self._known:
            return self._known[key]
        found = _template(self._routes(), {**scope, "method": scope.get("method", "GET")})
        if len(self._known) >= self._max_paths:
            self._known.clear()
        self._known[key] = found
        return found


def _template(routes: Sequence[BaseRoute], probe: Scope, prefix: str = "") -> str | None:
    """The template of the first route matching ``probe`` (PARTIAL: the path matches, the method does not: still
    this route), looking into included routers (FastAPI keeps them whole, under ``original_router``)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            below = str(getattr(getattr(route, "include_context", None), "prefix", "") or "")
            if below and not probe["path"].startswith(below):
                continue
            stripped = {**probe, "path": probe["path"][len(below) :]} if below else probe
            found = _template(inner.routes, stripped, prefix + below)
            if found is not None:
                return found
            continue
        match, _ = route.matches(probe)
        if match is not Match.NONE:
            template = getattr(route, "path", None)
            return prefix + template if isinstance(template, str) else None
    return None
