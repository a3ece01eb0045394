"""Django's own middleware without a thread hop per hook under ASGI.

Under ASGI, Django's MiddlewareMixin runs every process_request/process_response in its
own sync_to_async hop, in case it blocks: 13 hops per request for our middleware list,
which cost more than the view itself (README, Performance). The subclasses below run the hooks
that do no I/O directly on the event loop, and hop only in the cases that can touch the
database (a session to save, messages to store). Sync mode (tests, WSGI) is unchanged.
Checked against Django 5.2's implementations of each hook.

settings.MIDDLEWARE keeps Django's own dotted paths (the deploy and admin system checks
look for them); `ASGIHandler` below, used by clarity/asgi.py, loads these subclasses in
their place. It also runs
every request's database work on a small set of reused threads.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django import db
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as session_middleware
from django.core import signals
from django.core.handlers import asgi
from django.middleware import clickjacking, common, csrf, security
from django.test.utils import override_settings

from clarity.api.authentication import bearer_api_request


class InlineHooksMixin:
    """Run process_request/process_response on the event loop; `response_needs_thread` says when not to.

    `browser_only` middleware (sessions, CSRF, the lazy user, messages) is skipped for an
    API request that carries a bearer token: DRF authenticates it from the token alone
    (clarity/api/authentication.py), API views are csrf_exempt and send no messages. What
    they would have set up cost ~3 % of a patient read.
    """

    browser_only = False

    def response_needs_thread(self, request) -> bool:
        return False

    async def __acall__(self, request):
        if self.browser_only and bearer_api_request(request):
            return await self.get_response(request)
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooksMixin, security.SecurityMiddleware):
    """SSL redirect and security headers: settings and headers only."""


class CommonMiddleware(InlineHooksMixin, common.CommonMiddleware):
    """Host/user-agent checks, slash redirects (URL resolving), Content-Length: no I/O."""


class XFrameOptionsMiddleware(InlineHooksMixin, clickjacking.XFrameOptionsMiddleware):
    """One header."""


class AuthenticationMiddleware(InlineHooksMixin, auth_middleware.AuthenticationMiddleware):
    """Sets a lazy `request.user`; the session is read only when something evaluates it."""

    browser_only = True


class SessionMiddleware(InlineHooksMixin, session_middleware.SessionMiddleware):
    """The store is created lazily; only saving it (see process_response) does I/O."""

    browser_only = True

    def response_needs_thread(self, request) -> bool:
        session = getattr(request, "session", None)
        return (
            session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST) and not session.is_empty()
        )


class MessageMiddleware(InlineHooksMixin, messages_middleware.MessageMiddleware):
    """Storing messages can write the session; nothing to store means no I/O."""

    browser_only = True

    def response_needs_thread(self, request) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class CsrfViewMiddleware(InlineHooksMixin, csrf.CsrfViewMiddleware):
    """Cookie-based CSRF (CSRF_USE_SESSIONS is off): no I/O, except reading a form body in process_view."""

    browser_only = True

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            self.process_view = self._process_view_async

    async def _process_view_async(self, request, callback, callback_args, callback_kwargs):
        # The first two checks of CsrfViewMiddleware.process_view; the API's views are csrf_exempt (DRF checks CSRF
        # itself for session-authenticated requests), so they never hop.
        if (
            getattr(request, "csrf_processing_done", False)
            or getattr(callback, "csrf_exempt", False)
            or bearer_api_request(request)
        ):
            return None
        return await sync_to_async(super().process_view, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


def _no_request_started_hop() -> None:
    """
    Django closes a thread's unusable database connections at the start of every request
    as well as at its end, and under ASGI each is a thread hop of its own (the start one
    ~4 % of a patient read). Here every request's connection goes back to the pool at its
    end (CONN_MAX_AGE = 0, request_finished), so at the start there is nothing to close.
    The DEBUG-only query log is no longer cleared per request: it keeps its last 9,000
    queries (Django bounds it), which is all `make run` needs.
    """
    signals.request_started.disconnect(db.close_old_connections)
    signals.request_started.disconnect(db.reset_queries)


REPLACEMENTS = {
    f"{base.__module__}.{base.__qualname__}": f"{__name__}.{cls.__qualname__}"
    for cls in (
        SecurityMiddleware,
        SessionMiddleware,
        CommonMiddleware,
        CsrfViewMiddleware,
        AuthenticationMiddleware,
        MessageMiddleware,
        XFrameOptionsMiddleware,
    )
    for base in cls.__bases__[1:]
}


class ASGIHandler(asgi.ASGIHandler):
    """
    Django's ASGI handler, building its middleware chain from the hop-free subclasses above,
    and running each request's thread-sensitive work on one of at most REQUEST_THREADS
    reused threads of the process.

    Django gives every request its own ThreadSensitiveContext, whose executor starts a
    thread and joins it at the end (~8 % of a patient read under load). Here a request
    borrows an idle one-thread executor and gives it back, most recently used first, as a
    threaded WSGI server reuses its threads; the ORM's per-thread connection and
    transaction work as before. The bound: under the peer harness's 16 connections per
    worker, a thread per in-flight request only bought contention for the GIL (one thread
    per process measured 7.5 -> 6.8 ms CPU per patient read). One thread is too few,
    though: a request waiting on a row lock or for a pooled connection while the database
    is down would hold up every other request of the process (the graceful-shutdown and
    database-outage tests hold eight and four such requests). Requests beyond the bound
    wait on the event loop, which costs nothing.
    """

    def __init__(self):
        super().__init__()
        self._executors = 0
        self._idle: asyncio.LifoQueue | None = None
        _no_request_started_hop()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self._idle is None:
            self._idle = asyncio.LifoQueue()
        if self._idle.empty() and self._executors < settings.REQUEST_THREADS:
            self._executors += 1
            self._idle.put_nowait(ThreadPoolExecutor(1, "clarity-request"))
        executor = await self._idle.get()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            # A call abandoned by a cancelled request may still run on it: the next borrower's
            # calls simply queue behind it on the same single thread.
            self._idle.put_nowait(executor)

    def load_middleware(self, is_async=False):
        with override_settings(MIDDLEWARE=[REPLACEMENTS.get(path, path) for path in settings.MIDDLEWARE]):
            super().load_middleware(is_async)
