"""FHIR errors: the API's problem details, re-expressed as an `OperationOutcome`.

The project's one exception handler decides the status, the fixed text and the audit
event (denied access); this module only changes the envelope, so a FHIR 404 and an API
404 are the same decision.
"""

import logging

import orjson
from django.http import HttpResponse

from clarity.api.errors import DEFAULT_DETAILS, problem_exception_handler
from clarity.formats import dumps

from .resources import FHIR_JSON

logger = logging.getLogger("clarity.fhir")

# HTTP status → FHIR IssueType (http://hl7.org/fhir/valueset-issue-type.html).
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
    503: "transient",
}
KEPT_HEADERS = ("WWW-Authenticate", "Retry-After", "Allow")


def operation_outcome(status: int, detail: str | None = None, errors: dict | None = None, headers=None) -> HttpResponse:
    issues = [
        {
            "severity": "error",
            "code": ISSUE_CODES.get(status, "processing"),
            "diagnostics": detail or DEFAULT_DETAILS.get(status, "Error."),
        }
    ]
    for name, messages in (errors or {}).items():
        for message in messages:
            issues.append({"severity": "error", "code": "invalid", "diagnostics": f"{name}: {message}"})
    response = HttpResponse(
        dumps({"resourceType": "OperationOutcome", "issue": issues}), status=status, content_type=FHIR_JSON
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def outcome_exception_handler(exc, context):
    problem = problem_exception_handler(exc, context)
    if problem is None:
        # A bug, not the client's doing: logged without details, answered as a FHIR 500.
        logger.error("fhir_unhandled_exception", extra={"exception_type": type(exc).__name__})
        return operation_outcome(500)
    body = orjson.loads(problem.content)
    headers = {key: problem[key] for key in KEPT_HEADERS if problem.has_header(key)}
    return operation_outcome(problem.status_code, body.get("detail"), body.get("errors"), headers)
