"""With a staff session cookie, no request to the real ASGI application answers 5xx.

The access log once read `request.user` on the event loop, so every request whose view
never touched the user (static files, health checks, 404s, the API docs' assets) ran the
lazy session query in async context and answered 500 SynchronousOnlyOperation. The
Django test client is synchronous and never saw it: these tests drive `clarity.asgi`
through its ASGI interface, as uvicorn does.
"""

import logging

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from clarity.asgi import application


def admin_changelists():
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
    ]


def _get_all(paths, cookie):
    async def run():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.cookies.set(settings.SESSION_COOKIE_NAME, cookie)
            return {path: await client.get(path) for path in paths}

    return async_to_sync(run)()


@pytest.fixture
def staff_cookie(transactional_db, admin_user):
    # transactional_db: the application's request thread uses its own connection and must see the
    # session. The session is stored as a login would store it, without the login signal: its
    # audit event would be a committed append-only row that SQLite's flush (DELETE) refuses.
    session = SessionStore()
    session[SESSION_KEY] = str(admin_user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = admin_user.get_session_auth_hash()
    session.create()
    return session.session_key


def test_with_a_session_cookie_static_health_docs_and_404_answer_without_5xx(staff_cookie):
    responses = _get_all(
        ["/static/admin/css/base.css", "/health/live/", "/health/ready/", "/api/docs/", "/no-such-page/"], staff_cookie
    )

    statuses = {path: response.status_code for path, response in responses.items()}
    assert statuses == {
        "/static/admin/css/base.css": 200,
        "/health/live/": 200,
        "/health/ready/": 200,
        "/api/docs/": 200,
        "/no-such-page/": 404,
    }


def test_with_a_session_cookie_every_admin_changelist_answers_200(staff_cookie):
    paths = ["/admin/", *admin_changelists()]
    responses = _get_all(paths, staff_cookie)

    assert {path: response.status_code for path, response in responses.items()} == dict.fromkeys(paths, 200)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_the_access_line_names_the_user_only_once_authentication_resolved_it(staff_cookie, admin_user):
    handler = _Records()
    access_log = logging.getLogger("clarity.access")  # does not propagate: caplog would not see it
    access_log.addHandler(handler)
    try:
        _get_all(["/health/live/", "/admin/"], staff_cookie)
    finally:
        access_log.removeHandler(handler)

    users = {record.path: record.user_id for record in handler.records}
    assert users == {"/health/live/": None, "/admin/": str(admin_user.pk)}
