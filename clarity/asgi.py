"""ASGI entry point: `uvicorn clarity.asgi:application` (production: `python -m clarity.serve`)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarity.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from clarity.api.body_limit import BodyLimitMiddleware  # noqa: E402
from clarity.api.django_middleware import ASGIHandler  # noqa: E402
from clarity.api.scope_guard import ScopeGuard  # noqa: E402

# Django's handler, but its middleware hooks run without a thread hop each and requests
# reuse threads (see clarity/api/django_middleware.py).
django_application = ASGIHandler()

# The body limit is enforced here, before Django's handler spools the body (see body_limit.py).
# Outermost: WebSocket/lifespan/other scopes and HTTP/1.1 without Host never reach Django (see scope_guard.py).
application = ScopeGuard(BodyLimitMiddleware(django_application, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
