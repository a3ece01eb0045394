"""A newcomer's `make run`: a closing banner that says where everything is, and one log line per request."""

import subprocess
import sys

from clarity.tests.reliability.harness import ROOT


def test_the_banner_names_the_urls_the_demo_accounts_and_how_to_reset_their_passwords():
    banner = subprocess.run(
        [sys.executable, "scripts/run_banner.py", "0.0.0.0", "8080"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    for url in ("/api/v1/", "/api/docs/", "/admin/"):
        assert f"http://127.0.0.1:8080{url}" in banner
    for account in ("demo-admin", "demo-clinician", "demo-patient", "demo-researcher"):
        assert account in banner
    assert "manage.py seed_demo --reset-passwords" in banner


def test_make_run_turns_uvicorns_access_log_off_and_trusts_no_proxy_headers():
    # uvicorn's access line carries the query string (PHI such as ?search=<email>); the
    # app's own line does not. `.ci/run` checks the real `make run` output as well.
    recipe = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    uvicorn = recipe[recipe.index("uvicorn clarity.asgi:application") :]

    assert "--no-access-log" in uvicorn
    assert "--no-proxy-headers" in uvicorn
