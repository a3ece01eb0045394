"""Query-string validation shared by list endpoints: unknown or malformed parameters are 400s."""

import uuid

from clarity.api.errors import Problem

PAGINATION_PARAMS = frozenset({"cursor", "page_size"})


def check_params(request, allowed: set | frozenset) -> None:
    unknown = [key for key in request.query_params if key not in allowed and key not in PAGINATION_PARAMS]
    if unknown:
        raise Problem(
            400, "A query parameter is invalid.", errors={key[:64]: ["Unknown query parameter."] for key in unknown}
        )
    for key in request.query_params:
        values = request.query_params.getlist(key)
        if len(values) > 1:
            raise Problem(400, "A query parameter is invalid.", errors={key: ["Give this parameter once."]})
        # PostgreSQL refuses NUL in text parameters (a DataError, so a 500); bodies refuse it too.
        if "\x00" in values[0]:
            raise Problem(400, "A query parameter is invalid.", errors={key: ["Must not contain a NUL character."]})


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
