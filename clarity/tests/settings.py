"""
The test suite's settings (pytest.ini): production's, plus clarity/tests/medications, a
test-only patient-owned app routed under /api/v1/ by clarity/tests/urls.py. manage.py, the
servers the tests start and `makemigrations --check` use clarity.settings, without it.
"""

from clarity.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "clarity.tests.medications"]  # noqa: F405
ROOT_URLCONF = "clarity.tests.urls"
