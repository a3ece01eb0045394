"""The production server (`python -m clarity.serve`) over real HTTP, as a staff reviewer's browser uses it."""

import re

import pytest

from clarity.tests.live import admin_session, get
from clarity.tests.test_session_requests import admin_changelists

pytestmark = pytest.mark.django_db  # admin_changelists() reverses URLs only; the server has its own database


@pytest.fixture(scope="module")
def staff_cookies(live_clarity):
    return admin_session(live_clarity)


def test_with_a_staff_session_no_request_answers_5xx(live_clarity, staff_cookies):
    login_page = get(live_clarity, "/admin/login/").text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', login_page)
    docs_assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', get(live_clarity, "/api/docs/", staff_cookies).text)
    paths = [
        *assets,
        *docs_assets,
        "/health/live/",
        "/health/ready/",
        "/api/docs/",
        "/api/schema/",
        "/admin/",
        *admin_changelists(),
    ]

    statuses = {path: get(live_clarity, path, staff_cookies).status_code for path in paths}
    missing = {
        path: get(live_clarity, path, staff_cookies).status_code for path in ("/no-such-page/", "/static/nope.css")
    }

    assert assets and docs_assets
    assert statuses == dict.fromkeys(paths, 200)
    assert missing == {"/no-such-page/": 404, "/static/nope.css": 404}


def test_static_files_have_hashed_names_compressed_variants_and_far_future_caching(live_clarity):
    page = get(live_clarity, "/admin/login/").text
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert css, "the admin links its stylesheet under a content-hashed name"

    plain = get(live_clarity, css.group(1), **{"Accept-Encoding": "identity"})
    brotli = get(live_clarity, css.group(1), **{"Accept-Encoding": "br"})
    gzip = get(live_clarity, css.group(1), **{"Accept-Encoding": "gzip"})

    assert plain.status_code == 200 and plain.headers["Content-Type"].startswith("text/css")
    assert plain.headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert brotli.headers["Content-Encoding"] == "br" and gzip.headers["Content-Encoding"] == "gzip"
    assert brotli.content == gzip.content == plain.content  # httpx decodes both
    # An unhashed name may change meaning on the next deploy: cached briefly only.
    assert get(live_clarity, "/static/admin/css/base.css").headers["Cache-Control"] == "max-age=60, public"
