"""RFC 9457 problem details for every error under /api/.

One exception handler (DRF's EXCEPTION_HANDLER) turns every exception a view can raise
into `application/problem+json`, including the domain's refusals (`clarity.errors`),
which become HTTP here and nowhere else; Django-level 404/405/500/400 handlers do the same for
requests that never reach a DRF view. Bodies carry a fixed title, a fixed detail written
here, and, for validation failures, `errors` keyed by field path. They never carry
exception text, SQL, stack traces, parser messages or the values a client sent.
"""

import itertools
import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status

from clarity.api.parsers import BodyRejected
from clarity.errors import (
    ApplicationError,
    Busy,
    Conflict,
    IdempotencyMismatch,
    NotAllowed,
    OutOfScope,
    PreconditionRequired,
    StaleVersion,
)
from clarity.formats import dumps

logger = logging.getLogger("clarity.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
RETRY_AFTER_DB_SECONDS = 5

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

# Where a domain refusal owns a status, its class's default message is the text (one copy).
DEFAULT_DETAILS = {
    400: "The request is invalid.",
    401: "Authentication credentials were missing or invalid.",
    403: NotAllowed.message,
    404: OutOfScope.message,
    405: "This method is not allowed on this resource.",
    406: "The requested response format is not available.",
    409: Conflict.message,
    412: StaleVersion.message,
    413: "The request body is larger than 10 MiB.",
    415: "Request bodies must be JSON (Content-Type: application/json).",
    422: "The request cannot be processed.",
    428: PreconditionRequired.message,
    429: Busy.message,
    500: "An unexpected error occurred.",
    503: "The service is temporarily unavailable; retry later.",
}


class Problem(exceptions.APIException):
    """An API error with a status, a fixed detail and optional field errors."""

    def __init__(
        self, status_code: int, detail: str | None = None, *, errors=None, headers=None, type_: str | None = None
    ):
        self.status_code = status_code
        self.detail_text = detail or DEFAULT_DETAILS.get(status_code, "")
        self.errors = errors
        self.headers = headers or {}
        self.type_ = type_
        super().__init__(self.detail_text)


# An error body names at most this many fields (with at most this many messages each) and
# gives the full count in `error_count`: a 1,000-item batch of bad items, or a body of
# unknown keys, must not make a multi-megabyte answer.
MAX_ERRORS = 100


def problem_response(status_code: int, detail: str | None = None, *, errors=None, headers=None, type_=None):
    body = {
        "type": type_ or "about:blank",
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail or DEFAULT_DETAILS.get(status_code, ""),
    }
    if errors:
        if len(errors) > MAX_ERRORS:
            body["error_count"] = len(errors)
            errors = dict(itertools.islice(errors.items(), MAX_ERRORS))
        body["errors"] = {field: messages[:MAX_ERRORS] for field, messages in errors.items()}
    response = HttpResponse(dumps(body), status=status_code, content_type=PROBLEM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


# DRF/Django messages for these codes quote the submitted value; replace them.
VALUE_ECHO_MESSAGES = {
    "invalid_choice": "Not one of the allowed values.",
    "does_not_exist": "No such object.",
    "invalid_pk_value": "No such object.",
    "incorrect_type": "Wrong type.",
    "invalid": "Invalid value.",
}


def _safe_message(item) -> str:
    text = str(item)
    code = getattr(item, "code", None)
    if code in VALUE_ECHO_MESSAGES and ('"' in text or "\u201c" in text or "'" in text or code != "invalid"):
        return VALUE_ECHO_MESSAGES[code]
    return text


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure → {"field.sub": ["message", ...]} with fixed messages only."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "body" if key in ("non_field_errors", "__all__") and not prefix else str(key)
            path = f"{prefix}.{name}" if prefix else name
            for sub, messages in flatten_errors(value, path).items():
                out.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            out.setdefault(prefix or "body", []).extend(_safe_message(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item in ({}, [], None):
                    continue
                path = f"{prefix}.{index}" if prefix else str(index)
                for sub, messages in flatten_errors(item, path).items():
                    out.setdefault(sub, []).extend(messages)
    else:
        out.setdefault(prefix or "body", []).append(_safe_message(detail))
    return out


def django_validation_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A model ValidationError as field errors. Messages that would quote the submitted
    value (Django interpolates %(value)s into e.g. invalid_choice) get a fixed text."""
    by_field = exc.error_dict if hasattr(exc, "error_dict") else {"body": exc.error_list}
    errors: dict[str, list[str]] = {}
    for field, error_list in by_field.items():
        name = "body" if field == "__all__" else field
        for error in error_list:
            if error.params and "value" in error.params:
                message = VALUE_ECHO_MESSAGES.get(error.code, "Invalid value.")
            else:
                message = " ".join(error.messages)
            errors.setdefault(name, []).append(message)
    return errors


def _audit_denied(exc, context):
    """Denied access (401 with credentials, 403, out-of-scope 404) leaves a trace in the audit trail."""
    view = context.get("view")
    request = context.get("request")
    if request is None:
        return
    from clarity.audit.services import audit_denied

    try:
        audit_denied(request=request, exc=exc, view=view)
    except DatabaseError:
        # The response is already an error; an unavailable database must not turn it into a 500.
        logger.warning("audit_denied_write_failed")


# Each domain refusal's status: the one place where a `clarity.errors` class becomes HTTP.
DOMAIN_STATUS = {
    OutOfScope: 404,
    NotAllowed: 403,
    Conflict: 409,
    StaleVersion: 412,
    IdempotencyMismatch: 422,
    PreconditionRequired: 428,
    Busy: 429,
}


def _domain_problem(exc: ApplicationError, context) -> HttpResponse | None:
    """The problem response for a domain refusal; a refusal of access is audited as denied."""
    status_code = next((DOMAIN_STATUS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_STATUS), None)
    if status_code is None:
        return None  # a refusal nobody mapped is a bug: the 500 handler answers
    if isinstance(exc, OutOfScope | NotAllowed):
        _audit_denied(exc, context)
    if isinstance(exc, OutOfScope):
        # The same answer whether the record is missing or out of scope: no existence oracle.
        return problem_response(404)
    if isinstance(exc, Conflict):
        return problem_response(409, exc.message, errors={exc.field: [exc.field_message]} if exc.field else None)
    if isinstance(exc, Busy):
        return problem_response(429, exc.message, headers={"Retry-After": str(exc.retry_after)})
    return problem_response(status_code, exc.message)


def problem_exception_handler(exc, context):
    headers = {}
    if isinstance(exc, ApplicationError):
        return _domain_problem(exc, context)
    if isinstance(exc, Problem):
        return problem_response(
            exc.status_code, exc.detail_text, errors=exc.errors, headers=exc.headers, type_=exc.type_
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        return problem_response(400, "The request is invalid.", errors=django_validation_errors(exc))
    elif isinstance(exc, RequestDataTooBig):
        return problem_response(413)
    elif isinstance(exc, IntegrityError):
        # A uniqueness race or any other constraint the database judged: never a 500.
        logger.info("integrity_conflict")
        return problem_response(409, "The request conflicts with existing data (a uniqueness or integrity rule).")
    elif isinstance(exc, DataError):
        # The database refused a value (SQLSTATE class 22: NUL in text, out of range...):
        # input the API should have caught, still the client's input, so 400 and never a 500.
        logger.warning("data_error")
        return problem_response(400)
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database_unavailable")
        return problem_response(503, headers={"Retry-After": str(RETRY_AFTER_DB_SECONDS)})
    elif isinstance(exc, SuspiciousOperation):
        return problem_response(400)

    if not isinstance(exc, exceptions.APIException):
        return None  # A real bug: DRF re-raises and the 500 handler answers without details.

    status_code = exc.status_code
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if status_code in (401, 403):
        _audit_denied(exc, context)

    if isinstance(exc, exceptions.ValidationError):
        return problem_response(400, "The request is invalid.", errors=flatten_errors(exc.detail))
    if isinstance(exc, BodyRejected):
        # Valid JSON refused for its shape (NUL, depth): the parser's fixed message says which.
        return problem_response(400, str(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return problem_response(400, "The request body is not valid JSON.")
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return problem_response(415)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        if "WWW-Authenticate" not in headers:
            headers["WWW-Authenticate"] = "Bearer"
        return problem_response(401, headers=headers)
    detail = DEFAULT_DETAILS.get(status_code)
    return problem_response(status_code, detail, headers=headers)


# Django-level handlers (urls.py): requests that no DRF view answered.
def _is_api(request):
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    if _is_api(request):
        return problem_response(404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


@csrf_exempt  # it changes nothing; a bearer client sends no CSRF token and must get the 404 or redirect
def api_not_found(request, rest=""):
    """
    The last route of urls.py: every /api/ path no other route matched. A route, unlike
    handler404, answers the same in every mode: under DEBUG, Django answers an unmatched
    URL with its HTML debug page. Being a route, it also takes /api/ paths away from
    CommonMiddleware's APPEND_SLASH, which raises RuntimeError (a 500) under DEBUG for a
    POST/PUT/PATCH without the trailing slash; the slash rule is applied here instead.
    """
    from django.http import HttpResponsePermanentRedirect, HttpResponseRedirect
    from django.urls import Resolver404, resolve

    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            location = request.get_full_path(force_append_slash=True)
            if request.method in ("GET", "HEAD"):
                return HttpResponsePermanentRedirect(location)  # 301, as CommonMiddleware answers
            # 308 keeps the method and the body (RFC 9110 §15.4.9); a 301 would turn them into a GET.
            response = HttpResponseRedirect(location)
            response.status_code = 308
            return response
    return problem_response(404)


def handler400(request, exception=None):
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return problem_response(413)
        return problem_response(400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return problem_response(403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


def handler500(request):
    if _is_api(request):
        return problem_response(500)
    from django.views.defaults import server_error

    return server_error(request)


__all__ = [
    "api_not_found",
    "Problem",
    "flatten_errors",
    "handler400",
    "handler403",
    "handler404",
    "handler500",
    "problem_exception_handler",
    "problem_response",
    "status",
]
