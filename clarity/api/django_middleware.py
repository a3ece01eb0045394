"""Django's own middleware without a thread hop per hook under ASGI.

Under ASGI, Django's MiddlewareMixin runs every process_request/process_response in its
own sync_to_async hop, in case it blocks: 13 hops per request for our middleware list,
which cost more than the view itself (README, Performance). The subclasses below run the hooks
that do no I/O directly on the event loop, and hop only in the cases that can touch the
database (a session to save, messages to store). Sync mode (tests, WSGI) is unchanged.
Checked against Django 5.2's implementations of each hook.

settings.MIDDLEWARE keeps Django's own dotted paths (the deploy and admin system checks
look for them); `ASGIHandler` below, used by clarity/asgi.py, loads these subclasses in
their place. It also runs every request's database work on a few reused threads
(RequestThreads), and closes an API response without a hop back to its thread.
"""

import asyncio
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django import db
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as session_middleware
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi
from django.middleware import clickjacking, common, csrf, security
from django.test.utils import override_settings
from django.urls import set_script_prefix

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


class RequestThread(ThreadPoolExecutor):
    """One thread, lent to one request at a time; it knows whether a call it was given still runs."""

    def __init__(self):
        super().__init__(1, "clarity-request")
        self._last: Future | None = None

    def submit(self, fn, /, *args, **kwargs):
        self._last = super().submit(fn, *args, **kwargs)
        return self._last

    @property
    def busy(self) -> bool:
        # One thread runs the calls in order, so the last one ending means they all have.
        return self._last is not None and not self._last.done()


class RequestThreads:
    """
    The threads that run requests' database work in one server process: one-thread
    executors, lent to one request at a time, most recently used first (as a threaded WSGI
    server reuses its threads), so the ORM's per-thread connection and transaction work as
    before.

    At most `running` are lent at once while requests keep flowing: every thread more only
    buys contention for the GIL. Under the peer harness's 16 requests in flight per worker,
    16 threads left 8-12 % of both cores idle in GIL hand-offs (28,000 context switches
    a second against the FastAPI peer's 8,000) and served a page of interactions at 299
    req/s; 3 served 368. Requests beyond them wait on the event loop, which costs nothing.

    But a request can hold its thread without using it: waiting on a row lock, for a
    pooled connection while the database is down, or for an export's reader. So when no
    thread has come back for `patience` seconds, every lent one is held up, and the limit
    rises to give each waiting request a thread of its own, up to `maximum`: stuck requests
    hold up the others for `patience`, not for as long as they are stuck (the
    graceful-shutdown and database-outage tests hold eight and four). Each thread that
    comes back lowers the limit by one until it is `running` again, so one slow moment
    under sustained load does not leave `maximum` threads contending for good.

    A request whose client went away is cancelled while its thread may still run the
    call it was in (a lock wait, a pool wait). That thread is not lent again: the next
    request's calls would queue behind the abandoned one. It is let go and ends with it.
    """

    def __init__(self, running: int, maximum: int, patience: float):
        self.running, self.maximum, self.patience = running, max(maximum, running), patience
        self.started = 0  # threads started so far
        self._idle: list[RequestThread] = []
        self._lent = 0
        self._waiters: deque[asyncio.Future] = deque()
        self._progress = 0.0  # loop time a thread last came back (or a wait began)
        self._watchdog: asyncio.TimerHandle | None = None
        self._limit = running  # how many may be lent now; see the class docstring

    async def borrow(self) -> RequestThread:
        if self._lent < self._limit and not self._waiters:
            return self._lend()
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        if self._watchdog is None:
            self._progress = max(self._progress, loop.time())
            self._watchdog = loop.call_at(self._progress + self.patience, self._check)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give_back(waiter.result())  # lent just as the request was cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def give_back(self, executor: RequestThread) -> None:
        self._progress = asyncio.get_running_loop().time()
        self._lent -= 1
        if executor.busy:
            executor.shutdown(wait=False)  # its thread ends when the abandoned call does
        else:
            self._idle.append(executor)
        if self._limit > self.running:
            self._limit -= 1
        self._hand_out()

    def _hand_out(self) -> None:
        """Lend threads to the waiting requests, first come first served, while fewer than the limit are lent."""
        while self._waiters and self._lent < self._limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._lend())

    def _lend(self) -> RequestThread:
        self._lent += 1
        if self._idle:
            return self._idle.pop()
        self.started += 1
        return RequestThread()

    def _check(self) -> None:
        """The watchdog, while requests wait: if no thread came back for `patience`, every
        lent one is held up, so the limit rises to give the waiting requests threads."""
        self._watchdog = None
        if not self._waiters:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._progress >= self.patience:
            self._limit = min(self.maximum, self._lent + len(self._waiters))
            self._progress = loop.time()
            self._hand_out()
        if self._waiters:
            self._watchdog = loop.call_at(self._progress + self.patience, self._check)


class ASGIHandler(asgi.ASGIHandler):
    """
    Django's ASGI handler, building its middleware chain from the hop-free subclasses above,
    and running each request's thread-sensitive work on a thread lent by RequestThreads.

    Django gives every request its own ThreadSensitiveContext, whose executor starts a
    thread and joins it at the end (~8 % of a patient read under load); here the threads
    are reused.
    """

    def __init__(self):
        super().__init__()
        self._threads: RequestThreads | None = None
        _no_request_started_hop()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self._threads is None:
            self._threads = RequestThreads(
                settings.REQUEST_THREADS_RUNNING, settings.REQUEST_THREADS, settings.REQUEST_THREAD_PATIENCE
            )
        executor = await self._threads.borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self._threads.give_back(executor)

    def create_request(self, scope, body_file):
        request, error_response = super().create_request(scope, body_file)
        if request is not None:
            request.releases_connections_itself = True  # see ApiView.run and handle() below
        return request, error_response

    async def handle(self, scope, receive, send):
        """
        Django 5.2's ASGIHandler.handle (a test holds it to that version's source), but a
        response whose view gave its database connections back on its own thread
        (`connections_released`, set by ApiView.run) is closed here on the event loop: the
        hop to the request's thread only to fire `request_finished` was ~5 % of a patient
        read. The loop thread holds no database connection, so `close_old_connections`
        finds nothing there; the other receivers reset the URLconf and close caches.
        """
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(asgi.get_script_prefix(scope))
        await signals.request_started.asend(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return

        async def process_request(request, send):
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass
            return response

        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if getattr(response, "connections_released", False):
                response.close()
            else:
                await sync_to_async(response.close)()

        body_file.close()

    def load_middleware(self, is_async=False):
        with override_settings(MIDDLEWARE=[REPLACEMENTS.get(path, path) for path in settings.MIDDLEWARE]):
            super().load_middleware(is_async)
