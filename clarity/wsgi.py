"""WSGI entry point, for tools that need one; the API itself is served over ASGI."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarity.settings")

application = get_wsgi_application()
