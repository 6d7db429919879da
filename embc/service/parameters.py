"""Query parameters that an operation does not take are refused with a 422, as a body's unknown fields are: a
misspelt one (`?limt=5`) would otherwise be ignored, and the default answer sent as if it were the one asked for.
The pages (the map, the docs) and the other public paths (health) take whatever a browser or a prober adds."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from embc.service.keys import is_public


async def known_query(request: Request) -> None:
    """RequestValidationError naming each query parameter that the request's operation does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema or is_public(request.url.path):
        return
    taken = _taken(route)
    unknown = dict.fromkeys(name for name in request.query_params if name not in taken)
    if unknown:
        takes = f"(it takes: {', '.join(sorted(taken))})" if taken else "(it takes none)"
        raise RequestValidationError([{"type": "extra_forbidden", "loc": ("query", name), "input": None,
                                       "msg": f"not a query parameter of this operation {takes}"}
                                      for name in unknown])


def _taken(route: APIRoute) -> frozenset[str]:
    """The query parameters of the route and of the dependencies it has."""
    taken, dependants = set(), [route.dependant]
    while dependants:
        dependant = dependants.pop()
        taken.update(param.alias for param in dependant.query_params)
        dependants.extend(dependant.dependencies)
    return frozenset(taken)
