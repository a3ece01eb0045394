"""ASGI entry point: `uvicorn clarity.asgi:application`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarity.settings")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402 - settings are configured by get_asgi_application()

from clarity.api.body_limit import BodyLimitMiddleware  # noqa: E402

# The body limit is enforced here, before Django's handler spools the body (see body_limit.py).
application = BodyLimitMiddleware(django_application, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
