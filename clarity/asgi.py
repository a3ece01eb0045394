"""ASGI entry point: `uvicorn clarity.asgi:application` (production: `python -m clarity.serve`)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clarity.settings")
django.setup(set_prefix=False)

# Django's handler, but its middleware hooks run without a thread hop each (see the module).
from clarity.api.django_middleware import ASGIHandler  # noqa: E402

application = ASGIHandler()
