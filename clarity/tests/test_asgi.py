"""The ASGI entry point runs Django's middleware without a thread hop per hook, to the same effect."""

import hashlib
import inspect
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core import signals
from django.core.handlers import asgi
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware

from clarity.api import django_middleware
from clarity.asgi import application, django_application


def _middleware_chain(handler):
    found = []
    layer = handler._middleware_chain
    while layer is not None:
        instance = getattr(layer, "__wrapped__", layer)
        found.append(type(instance))
        layer = getattr(instance, "get_response", None)
    return found


def test_asgi_application_loads_the_hop_free_subclasses_of_djangos_middleware():
    chain = _middleware_chain(django_application)

    assert django_middleware.SessionMiddleware in chain
    assert django_middleware.CsrfViewMiddleware in chain
    assert DjangoSessionMiddleware not in chain and DjangoCsrfViewMiddleware not in chain
    inline = [cls for cls in chain if issubclass(cls, django_middleware.InlineHooksMixin)]
    assert len(inline) == len(django_middleware.REPLACEMENTS) == 7


@pytest.mark.django_db
def test_asgi_response_carries_the_security_headers_of_the_inline_hooks():
    async def get():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get("/health/live/")

    response = async_to_sync(get)()

    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Content-Security-Policy" in response.headers


async def _run_scope(scope, incoming):
    sent = []
    queue = list(incoming)

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    return sent


def test_a_websocket_scope_is_refused_with_a_403_problem_where_the_server_allows_a_denial_response():
    scope = {
        "type": "websocket",
        "path": "/api/v1/patients/",
        "headers": [],
        "extensions": {"websocket.http.response": {}},
    }

    sent = async_to_sync(_run_scope)(scope, [{"type": "websocket.connect"}])

    assert sent[0]["type"] == "websocket.http.response.start" and sent[0]["status"] == 403
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert b"WebSocket" in sent[1]["body"]


def test_a_websocket_scope_is_closed_before_accept_elsewhere():
    scope = {"type": "websocket", "path": "/", "headers": []}

    sent = async_to_sync(_run_scope)(scope, [{"type": "websocket.connect"}])

    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_lifespan_is_acknowledged():
    sent = async_to_sync(_run_scope)(
        {"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    )

    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.django_db
def test_http_1_1_without_host_is_400_before_django():
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": "/health/live/", "raw_path": b"/health/live/",
             "query_string": b"", "headers": [], "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1234), "scheme": "http"}  # fmt: skip

    sent = async_to_sync(_run_scope)(scope, [{"type": "http.request", "body": b"", "more_body": False}])

    assert sent[0]["status"] == 400


def test_handle_is_a_copy_of_the_django_version_it_was_made_from():
    # clarity/api/django_middleware.py's ASGIHandler.handle copies Django 5.2's and changes
    # only how an API response is closed: an upgrade must re-check the copy.
    source = inspect.getsource(asgi.ASGIHandler.handle).encode()
    assert hashlib.sha256(source).hexdigest() == "98faeb5bef800331e6a8002fbc96b30e4122a23438ae45a047190a531ea11323"


@pytest.mark.django_db
def test_an_api_response_is_closed_without_a_second_hop_to_the_request_thread(monkeypatch):
    hops = []
    submit = ThreadPoolExecutor.submit

    def counting_submit(executor, fn, /, *args, **kwargs):
        if executor._thread_name_prefix == "clarity-request":
            hops.append(fn)
        return submit(executor, fn, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", counting_submit)
    finished = []

    def on_finished(sender, **kwargs):
        finished.append(sender)

    signals.request_finished.connect(on_finished, weak=False, dispatch_uid="test-asgi-finished")

    async def get(path):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path)

    try:
        # An API request (refused for want of credentials: the view runs, no database needed)
        api = async_to_sync(get)("/api/v1/patients/")
        api_hops, hops[:] = [repr(fn) for fn in hops], []
        # A Django view's response is still closed on the request's thread
        page = async_to_sync(get)("/admin/login/")
    finally:
        signals.request_finished.disconnect(dispatch_uid="test-asgi-finished")

    assert api.status_code == 401 and page.status_code == 200
    # The view ran on the request's thread, and closing its response did not hop there.
    assert any("_run_view" in hop for hop in api_hops), api_hops
    assert not any("HttpResponseBase.close" in hop for hop in api_hops), api_hops
    assert "HttpResponseBase.close" in repr(hops[-1])  # the admin's response: closed on its thread
    assert len(finished) == 2  # request_finished still fires for both
