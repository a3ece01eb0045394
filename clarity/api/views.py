"""The base of every API view: adrf async handlers doing all their sync work in ONE hop.

adrf's stock dispatch runs `initial()` (authentication, permissions) in one thread hop
and the handler's ORM work in more. Here a handler is

    async def get(self, request, pk):
        return await self.run(self.retrieve, request, pk)

and `run` does authentication, permission checks, the handler's queries and audit
writes, exception handling and rendering in a single `sync_to_async` call, so the ORM
always runs on the thread that owns the connection (and, in tests, the test's
transaction) and a request costs one hop instead of five or more.
"""

from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections
from django.http import HttpResponse
from rest_framework.exceptions import MethodNotAllowed, UnsupportedMediaType

from clarity.audit.services import AuditContext
from clarity.replicas import replica_failed

BODY_METHODS = {"POST", "PUT", "PATCH"}


class ApiView(AsyncAPIView):
    audit_resource_type = ""

    async def async_dispatch(self, request, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        method = request.method.lower()
        handler = getattr(self, method, None) if method in self.http_method_names else None
        if handler is None or method == "options":
            return await self.run(self._not_allowed, request, *args, **kwargs)
        return await handler(request, *args, **kwargs)

    @property
    def allowed_methods(self):
        # OPTIONS is answered 405 (async_dispatch), so Allow must not advertise it (RFC 9110 §10.2.1).
        return [method for method in super().allowed_methods if method != "OPTIONS"]

    def _not_allowed(self, request, *args, **kwargs):
        raise MethodNotAllowed(request.method)

    async def run(self, fn, request, *args, **kwargs):
        return await sync_to_async(self._run_view, thread_sensitive=True)(fn, request, args, kwargs)

    def _run_view(self, fn, request, args, kwargs):
        response = self._run_sync(fn, request, args, kwargs)
        if getattr(request._request, "releases_connections_itself", False) and not response.streaming:
            # Under the production server (clarity/api/django_middleware.py) the request's
            # database connections go back to the pool here, on the thread that used them,
            # so the server closes the response without another hop to this thread. A
            # streaming response still reads the database while it streams: it is closed
            # on this thread as Django does. (Django's test client keeps its own handling:
            # the flag is set by the server's handler only.)
            close_old_connections()
            response.connections_released = True
        return response

    def _run_sync(self, fn, request, args, kwargs):
        try:
            try:
                response = self._handle(fn, request, args, kwargs)
            except DatabaseError:
                # A replica failed under a safe request (clarity/replicas.py): run it again,
                # on the primary. Its audit events were rolled back with the failed attempt.
                if not replica_failed():
                    raise
                response = self._handle(fn, request, args, kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        response = self.finalize_response(request, response, *args, **kwargs)
        if hasattr(response, "render"):
            response = _plain(response.render())
        return response

    def _handle(self, fn, request, args, kwargs):
        self.initial(request, *args, **kwargs)
        self._check_body_type(request)
        return fn(request, *args, **kwargs)

    def _check_body_type(self, request):
        if request.method not in BODY_METHODS:
            return
        has_body = bool(request.META.get("CONTENT_LENGTH") not in (None, "", "0")) or request.META.get(
            "HTTP_TRANSFER_ENCODING"
        )
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if has_body and content_type != "application/json":
            raise UnsupportedMediaType(content_type or "none")

    def audit_context(self, request) -> AuditContext:
        return AuditContext.from_request(request)


def _plain(response):
    """A rendered DRF Response as a plain HttpResponse, so Django does not hop to a thread to render it again."""
    plain = HttpResponse(response.content, status=response.status_code)
    for key, value in response.items():
        plain[key] = value
    for cookie in response.cookies.values():
        plain.cookies[cookie.key] = cookie
    return plain
