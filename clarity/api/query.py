"""Query-string validation shared by list endpoints: unknown or malformed parameters are 400s."""

import uuid

from clarity.api.errors import Problem

PAGINATION_PARAMS = frozenset({"cursor", "page_size"})


def check_params(request, allowed: set | frozenset) -> None:
    unknown = [key for key in request.query_params if key not in allowed and key not in PAGINATION_PARAMS]
    if unknown:
        raise Problem(400, "A query parameter is invalid.", errors={key[:64]: ["Unknown query parameter."] for key in unknown})
    for key in request.query_params:
        if len(request.query_params.getlist(key)) > 1:
            raise Problem(400, "A query parameter is invalid.", errors={key: ["Give this parameter once."]})


def choice_param(request, name: str, choices) -> str | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if value not in choices:
        raise Problem(400, "A query parameter is invalid.", errors={name: [f"Must be one of: {', '.join(choices)}."]})
    return value


def uuid_param(request, name: str):
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Problem(400, "A query parameter is invalid.", errors={name: ["Must be a UUID."]}) from None
