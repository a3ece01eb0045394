"""A staff reviewer's path through the admin and the API docs, in headless Chromium on the production server."""

import re

import httpx

from clarity.tests.browser.conftest import sign_in


def rows(browse):
    return browse.page.locator("#result_list tbody tr")


def test_admin_login_refused_then_accepted(browse, site):
    browse.goto("/admin/login/")
    assert browse.page.locator(".authorised-use-notice").is_visible()
    assert "Clarity staff review" in browse.page.title()
    browse.shot("login")

    browse.page.fill("#id_username", "demo-admin")
    browse.page.fill("#id_password", "not the password")
    browse.navigate(lambda: browse.page.click("input[type=submit]"))
    assert browse.page.locator(".errornote").is_visible()
    browse.shot("refused")

    sign_in(browse, site)
    assert browse.page.locator("#site-name").inner_text() == "Clarity staff review"
    assert browse.page.locator("#user-tools").is_visible()
    browse.shot("index")


def test_patients_list_searched_by_mrn_and_by_name(browse, site):
    sign_in(browse, site)
    browse.goto("/admin/patients/patient/")
    assert rows(browse).count() >= 10
    browse.shot("patients")

    browse.page.fill("#searchbar", "DEMO-000003")
    browse.navigate(lambda: browse.page.press("#searchbar", "Enter"))
    assert rows(browse).count() == 1
    label = rows(browse).first.locator("th a").inner_text()
    assert label.startswith("DEMO-000003 · ")
    browse.shot("by-mrn")

    family_name = re.match(r"DEMO-000003 · ([^,]+),", label).group(1)
    browse.page.fill("#searchbar", family_name)
    browse.navigate(lambda: browse.page.press("#searchbar", "Enter"))
    names = rows(browse).locator("th a").all_inner_texts()
    assert label in names and all(f"· {family_name}," in name for name in names)
    browse.shot("by-name")


def test_patient_page_adds_and_removes_a_care_team_member_and_the_audit_trail_shows_it(browse, site):
    sign_in(browse, site)
    browse.goto("/admin/patients/patient/?q=DEMO-000004")
    browse.navigate(lambda: rows(browse).first.locator("th a").click())
    assert browse.page.locator("#care_team-group").is_visible() and browse.page.locator("#twins-group").is_visible()
    assert browse.page.locator("#twins-group tbody tr.has_original").count() >= 1
    browse.shot("patient")

    # Add demo-consultant-2 (seed_demo put demo-consultant-1 on even-numbered patients' teams).
    browse.page.click("#care_team-group .add-row a")
    row = browse.page.locator("#care_team-group tr.dynamic-care_team").last
    row.locator(".select2-selection").click()
    browse.page.fill(".select2-search__field", "consultant-2")
    browse.page.locator(".select2-results__option", has_text="demo-consultant-2").click()
    row.locator("select[name$='-role']").select_option("consulting")
    browse.shot("adding")
    browse.navigate(lambda: browse.page.click("input[name=_continue]"))
    assert browse.page.locator(".messagelist .success").is_visible()
    member = browse.page.locator("#care_team-group tr.has_original", has_text="demo-consultant-2")
    assert member.count() == 1
    browse.shot("added")

    member.locator("input[name$='-DELETE']").check()
    browse.navigate(lambda: browse.page.click("input[name=_continue]"))
    assert browse.page.locator(".messagelist .success").is_visible()
    assert browse.page.locator("#care_team-group tr.has_original", has_text="demo-consultant-2").count() == 0
    browse.shot("removed")

    browse.navigate(lambda: browse.page.click("text=Every audit event for this patient"))
    browse.shot("audit-for-patient")
    events = rows(browse).all_inner_texts()
    assert any("\tDelete\tcare_team" in e for e in events), events[:5]
    assert any("\tCreate\tcare_team" in e for e in events), events[:5]


def test_interaction_log_and_twin_revisions_are_read_only(browse, site):
    sign_in(browse, site)
    for changelist in ("/admin/interactions/interactionlog/", "/admin/twins/twinrevision/"):
        browse.goto(changelist)
        assert rows(browse).count() >= 1
        width = browse.page.evaluate("document.documentElement.scrollWidth")
        assert width <= browse.page.viewport_size["width"], f"{changelist} is {width}px wide"
        browse.shot(changelist.strip("/").replace("/", "-"))
        browse.navigate(lambda: rows(browse).first.locator("th a").click())
        assert browse.page.locator("input[name=_save]").count() == 0
        assert browse.page.locator("#content-main").locator("input:not([type=hidden]), textarea, select").count() == 0
        browse.shot(changelist.strip("/").replace("/", "-") + "-entry")


def test_api_docs_authorise_with_a_bearer_token_and_run_users_me(browse, site):
    token = httpx.post(
        f"{site.url}/api/v1/auth/token/",
        json={"username": "demo-clinician", "password": site.passwords["demo-clinician"]},
        timeout=30,
    ).json()["token"]

    browse.goto("/api/docs/")
    browse.page.wait_for_selector(".swagger-ui .opblock")
    browse.shot("docs")
    browse.page.click(".swagger-ui .btn.authorize")
    schemes = browse.page.locator(".modal-ux .auth-container")
    assert schemes.count() == 1  # bearer only: a session cookie cannot be used from here
    schemes.locator("input").fill(token)
    browse.page.click(".modal-ux .auth-btn-wrapper .authorize")
    browse.page.click(".modal-ux .btn-done")

    operation = browse.page.locator("[id^=operations-][id$=-users_me]")  # whatever tag the schema gives it
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status")
    status.first.wait_for()
    assert status.first.inner_text().strip() == "200"
    assert "demo-clinician" in operation.locator(".live-responses-table .microlight").first.inner_text()
    browse.shot("users-me")

    browse.page.reload()
    browse.page.wait_for_selector(".swagger-ui .opblock")
    assert browse.page.locator(".swagger-ui .btn.authorize.locked").count() == 1  # persistAuthorization
