"""The ASGI entry point runs Django's middleware without a thread hop per hook, to the same effect."""

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
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
