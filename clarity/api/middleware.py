"""Request context: a request id on every request and response, an early 413, and one
structured access-log line per request (no bodies, no query strings: they can hold PHI).
"""

import json
import logging
import re
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.utils.functional import LazyObject, empty

from clarity.api.errors import problem_response

access_log = logging.getLogger("clarity.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _before(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request._clarity_started = time.perf_counter()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE and request.path.startswith("/api/"):
            return problem_response(413)
        return None

    def _after(self, request, response):
        response["X-Request-ID"] = request.request_id
        user = _resolved_user_id(request)
        access_log.info(
            "request",
            extra={
                "request_id": request.request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "user_id": str(user) if user else None,
                "duration_ms": round((time.perf_counter() - request._clarity_started) * 1000, 2),
            },
        )
        return response

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        early = self._before(request)
        response = early or self.get_response(request)
        return self._after(request, response)

    async def __acall__(self, request):
        early = self._before(request)
        response = early or await self.get_response(request)
        return self._after(request, response)


def _resolved_user_id(request):
    """
    The id of the user authentication has already resolved for this request, or None.

    Never resolves it here: `request.user` is a lazy object whose first use reads the
    session and the user from the database, and this runs on the event loop under ASGI
    (SynchronousOnlyOperation: every static file, health check and 404 answered 500 once
    a session cookie was present). A request whose view never looked at the user is
    logged without one.
    """
    user_id = getattr(request, "_clarity_user_id", None)  # set by the API's bearer authentication
    if user_id is not None:
        return user_id
    # django.contrib.auth.middleware caches the resolved user on the request (sync or async path).
    user = request.__dict__.get("_cached_user") or request.__dict__.get("_acached_user")
    if user is None:
        candidate = request.__dict__.get("user")
        if isinstance(candidate, LazyObject):
            # Evaluated lazy user: its wrapped object; unevaluated: leave it alone.
            candidate = None if candidate._wrapped is empty else candidate._wrapped
        user = candidate  # DRF replaces request.user with the authenticated user itself
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Only whitelisted context keys are emitted."""

    FIELDS = ("request_id", "method", "path", "status", "user_id", "duration_ms")

    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in self.FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            # Exception type only: exception text can quote PHI or SQL parameters.
            entry["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(entry)


class ContentSecurityPolicyMiddleware:
    """Adds settings.CONTENT_SECURITY_POLICY to every response (Django 5.2 has no built-in CSP)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        return response

    async def __acall__(self, request):
        response = await self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        return response
