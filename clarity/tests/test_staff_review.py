"""The Django admin as a reviewer's workspace (issue #10 item 4, #11 item 5)."""

import datetime
import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clarity.audit.models import AuditEvent
from clarity.users.models import ApiToken, LoginFailure, hash_token
from clarity.users.tests.factories import UserFactory
from interactions.models import IdempotencyRecord
from patients.models import BreakGlassGrant, CareTeamMembership
from patients.tests.factories import CareTeamMembershipFactory
from twins.models import TwinRevision
from twins.tests.factories import TwinRevisionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    primary = UserFactory(role="clinician", username="dr-primary", first_name="Priya", last_name="Patel")
    consultant = UserFactory(role="clinician", username="dr-consult", first_name="Omar", last_name="Okafor")
    membership = CareTeamMembershipFactory(
        role="primary",
        clinician=primary,
        patient__mrn="MRN-REVIEW-1",
        patient__given_name="Ada",
        patient__family_name="Lovelace",
    )
    CareTeamMembershipFactory(role="consulting", clinician=consultant, patient=membership.patient)
    return {"patient": membership.patient, "primary": primary, "consultant": consultant}


def care_team_form(patient, members, *, delete=(), add=None):
    data = {
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "status": patient.status,
        "email": "",
        "phone": "",
        "address": "",
        "care_team-TOTAL_FORMS": str(len(members) + (1 if add else 0)),
        "care_team-INITIAL_FORMS": str(len(members)),
        "twins-TOTAL_FORMS": "0",
        "twins-INITIAL_FORMS": "0",
    }
    for i, member in enumerate(members):
        data[f"care_team-{i}-id"] = str(member.pk)
        data[f"care_team-{i}-patient"] = str(patient.pk)
        if member.clinician_id in delete:
            data[f"care_team-{i}-DELETE"] = "on"
    if add:
        i = len(members)
        data[f"care_team-{i}-clinician"] = str(add[0].pk)
        data[f"care_team-{i}-role"] = add[1]
        data[f"care_team-{i}-patient"] = str(patient.pk)
    return data


# --- Branding and the login page --------------------------------------------------------
def test_the_login_page_is_branded_with_an_authorised_use_notice_and_shows_a_refusal(admin_user):
    page = Client().get("/admin/login/").content.decode()
    refused = Client().post("/admin/login/", {"username": admin_user.username, "password": "wrong password"})

    assert "Clarity staff review" in page
    assert "Authorised use only" in page and "audit log" in page
    assert refused.status_code == 200
    assert 'class="errornote"' in refused.content.decode() and "Authorised use only" in refused.content.decode()


# --- Labels and widgets ----------------------------------------------------------------
def test_records_are_labelled_for_people_in_titles_breadcrumbs_lists_and_pickers(admin_client, team):
    patient = team["patient"]
    change = admin_client.get(reverse("admin:patients_patient_change", args=[patient.pk])).content.decode()
    changelist = admin_client.get(reverse("admin:patients_patient_changelist")).content.decode()
    picker = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "patients", "model_name": "careteammembership", "field_name": "clinician", "term": "dr-cons"},
    )

    label = "MRN-REVIEW-1 · Lovelace, Ada"
    assert f"<title>{label} | Change patient" in change
    assert re.search(r'<div class="breadcrumbs">.*' + re.escape(label), change, flags=re.S)
    assert f">{label}</a>" in changelist
    assert str(patient.pk) not in re.search(r"<title>.*?</title>", change).group(0)
    assert json.loads(picker.content)["results"] == [
        {"id": str(team["consultant"].pk), "text": "Omar Okafor (dr-consult)"}
    ]


def test_contact_details_are_single_line_inputs(admin_client, team):
    page = admin_client.get(reverse("admin:patients_patient_change", args=[team["patient"].pk])).content.decode()

    for name in ("email", "phone", "address"):
        assert re.search(rf'<input type="text" name="{name}"', page), name
        assert f'<textarea name="{name}"' not in page


# --- Writes go through the services, audited as the API audits them ----------------------
def test_removing_a_care_team_member_in_the_patient_page_is_a_care_team_delete_event(admin_client, team):
    patient = team["patient"]
    members = list(CareTeamMembership.objects.filter(patient=patient).order_by("created_at", "id"))

    response = admin_client.post(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        care_team_form(patient, members, delete=[team["consultant"].pk]),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert not CareTeamMembership.objects.filter(patient=patient, clinician=team["consultant"]).exists()
    event = AuditEvent.objects.get(action="delete", resource_type="care_team")
    assert (event.patient_id, event.resource_id) == (patient.pk, str(team["consultant"].pk))
    assert not AuditEvent.objects.filter(action="update", resource_type="patient").exists()  # nothing else changed


def test_adding_a_care_team_member_in_the_patient_page_is_a_care_team_create_event(admin_client, team):
    patient = team["patient"]
    newcomer = UserFactory(role="clinician")
    members = list(CareTeamMembership.objects.filter(patient=patient).order_by("created_at", "id"))

    response = admin_client.post(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        care_team_form(patient, members, add=(newcomer, "consulting")),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert CareTeamMembership.objects.get(patient=patient, clinician=newcomer).role == "consulting"
    event = AuditEvent.objects.get(action="create", resource_type="care_team")
    assert (event.patient_id, event.resource_id) == (patient.pk, str(newcomer.pk))


def test_the_primary_clinician_cannot_be_removed_in_the_patient_page(admin_client, team):
    patient = team["patient"]
    members = list(CareTeamMembership.objects.filter(patient=patient).order_by("created_at", "id"))

    response = admin_client.post(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        care_team_form(patient, members, delete=[team["primary"].pk]),
    )

    assert response.status_code == 200
    assert "The primary clinician cannot be removed" in response.content.decode()
    assert CareTeamMembership.objects.filter(patient=patient).count() == 2
    assert not AuditEvent.objects.filter(resource_type="care_team").exists()


def test_a_twin_configuration_change_in_the_admin_writes_a_revision_and_state_stays_read_only(admin_client):
    twin = TwinRevisionFactory(twin__name="Mood course", twin__state={"engine": "v1"}).twin
    url = reverse("admin:twins_digitaltwin_change", args=[twin.pk])
    page = admin_client.get(url).content.decode()

    response = admin_client.post(
        url,
        {
            "name": "Mood course",
            "status": twin.status,
            "configuration": json.dumps({"simulation_granularity_hours": 12}),
            "state": json.dumps({"engine": "forged"}),
            "revisions-TOTAL_FORMS": "1",
            "revisions-INITIAL_FORMS": "1",
        },
    )

    assert 'name="state"' not in page
    assert response.status_code == 302, response.content.decode()[:3000]
    twin.refresh_from_db()
    assert twin.version == 2 and twin.configuration == {"simulation_granularity_hours": 12}
    assert twin.state == {"engine": "v1"}
    assert TwinRevision.objects.get(twin=twin, version=2).configuration == {"simulation_granularity_hours": 12}
    assert AuditEvent.objects.filter(action="update", resource_type="twin", resource_id=str(twin.pk)).count() == 1


# --- Security tables ---------------------------------------------------------------------
def test_login_failures_and_api_tokens_are_view_only(admin_client, clinician):
    failure = LoginFailure.objects.create(username="someone", ip="192.0.2.1")
    token = ApiToken.objects.create(
        user=clinician, key_hash=hash_token("x" * 40), expires_at=timezone.now() + datetime.timedelta(hours=1)
    )

    for model, obj in (("loginfailure", failure), ("apitoken", token)):
        changelist = admin_client.get(reverse(f"admin:users_{model}_changelist")).content.decode()
        change_url = reverse(f"admin:users_{model}_change", args=[obj.pk])
        assert f'href="{reverse(f"admin:users_{model}_add")}"' not in changelist
        assert admin_client.get(reverse(f"admin:users_{model}_add")).status_code == 403
        assert admin_client.post(change_url, {"revoked_at": "", "username": "x"}).status_code == 403
        assert (
            admin_client.post(reverse(f"admin:users_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
        )
    assert LoginFailure.objects.filter(pk=failure.pk, username="someone").exists()


def test_revoking_tokens_is_an_audited_admin_action(admin_client, clinician):
    token = ApiToken.objects.create(
        user=clinician, key_hash=hash_token("y" * 40), expires_at=timezone.now() + datetime.timedelta(hours=1)
    )

    response = admin_client.post(
        reverse("admin:users_apitoken_changelist"), {"action": "revoke", "_selected_action": [str(token.pk)]}
    )

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = AuditEvent.objects.get(action="logout")
    assert event.resource_id == str(clinician.pk) and event.actor_username == "admin-user"


# --- The audit list ---------------------------------------------------------------------
def test_the_audit_list_hides_the_reviewers_own_list_events_unless_asked(admin_client, team, clinician):
    admin_client.get(reverse("admin:patients_patient_changelist"))  # writes the reviewer's own list events
    AuditEvent.objects.create(
        actor=clinician,
        actor_username=clinician.username,
        action="read",
        resource_type="patient",
        resource_id=str(team["patient"].pk),
        patient_id=team["patient"].pk,
    )

    default = admin_client.get(reverse("admin:audit_auditevent_changelist"))
    shown = admin_client.get(reverse("admin:audit_auditevent_changelist"), {"own_lists": "shown"})

    # (The reviewer's sign-in is a `login` event of their own: shown, it is not a list.)
    assert [e.action for e in default.context["cl"].result_list if e.action != "login"] == ["read"]
    assert {e.action for e in shown.context["cl"].result_list} - {"login"} == {"read", "list"}


def test_the_audit_list_searches_by_actor_and_patient_and_filters_by_patient(admin_client, team, clinician):
    patient = team["patient"]
    AuditEvent.objects.create(
        actor=clinician,
        actor_username=clinician.username,
        action="read",
        resource_type="patient",
        resource_id=str(patient.pk),
        patient_id=patient.pk,
    )
    AuditEvent.objects.create(
        actor=clinician, actor_username=clinician.username, action="read", resource_type="patient", resource_id="x"
    )
    url = reverse("admin:audit_auditevent_changelist")

    by_actor = admin_client.get(url, {"q": clinician.username})
    by_patient = admin_client.get(url, {"q": str(patient.pk)})
    filtered = admin_client.get(url, {"patient_id": str(patient.pk)})
    nonsense = admin_client.get(url, {"q": "not-a-uuid"})
    bad_filter = admin_client.get(url, {"patient_id": "not-a-uuid"})

    assert len(by_actor.context["cl"].result_list) == 2
    assert [e.patient_id for e in by_patient.context["cl"].result_list] == [patient.pk]
    assert [e.patient_id for e in filtered.context["cl"].result_list] == [patient.pk]
    assert nonsense.status_code == 200 and list(nonsense.context["cl"].result_list) == []
    assert bad_filter.status_code in (200, 302)
    filters = {spec.title for spec in by_actor.context["cl"].filter_specs}
    assert filters >= {"your own list events", "action", "outcome", "break glass", "resource type", "occurred at"}


# --- PHI pages are audited or do not show PHI (#11 item 5) -------------------------------
def test_an_idempotency_record_page_does_not_show_the_stored_response_body(admin_client, clinician):
    record = IdempotencyRecord.objects.create(
        actor=clinician,
        key="k-1",
        request_fingerprint="f" * 64,
        response_status=201,
        response_body=[{"payload": {"text": "Slept badly XYZZY"}}],
    )

    page = admin_client.get(reverse("admin:interactions_idempotencyrecord_change", args=[record.pk])).content.decode()

    assert "k-1" in page and "XYZZY" not in page


def test_opening_a_break_glass_grant_shows_its_reason_and_is_audited(admin_client, team):
    grant = BreakGlassGrant.objects.create(
        patient=team["patient"],
        clinician=UserFactory(role="clinician"),
        reason="Emergency department: crisis XYZZY",
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )

    listing = admin_client.get(reverse("admin:patients_breakglassgrant_changelist"))
    page = admin_client.get(reverse("admin:patients_breakglassgrant_change", args=[grant.pk])).content.decode()

    assert listing.status_code == 200 and "XYZZY" not in listing.content.decode()
    assert "XYZZY" in page
    read = AuditEvent.objects.get(action="read", resource_type="break_glass")
    assert (read.resource_id, read.patient_id) == (str(grant.pk), team["patient"].pk)
    assert AuditEvent.objects.filter(action="list", resource_type="break_glass", patient_id=team["patient"].pk).exists()


# --- Lists stay cheap -------------------------------------------------------------------
@pytest.mark.parametrize(
    "changelist",
    [
        "admin:patients_patient_changelist",
        "admin:twins_digitaltwin_changelist",
        "admin:interactions_interactionlog_changelist",
        "admin:audit_auditevent_changelist",
        "admin:patients_careteammembership_changelist",
    ],
)
def test_changelist_queries_do_not_grow_with_the_rows_shown(admin_client, django_assert_max_num_queries, changelist):
    from interactions.models import InteractionLog

    def rows(n):
        for _ in range(n):
            twin = TwinRevisionFactory().twin
            CareTeamMembershipFactory(patient=twin.patient, role="primary")
            InteractionLog.objects.create(
                patient=twin.patient, twin=twin, kind="note", payload={"text": "x"}, occurred_at=timezone.now()
            )
            AuditEvent.objects.create(
                actor_username="someone-else", action="read", resource_type="twin", patient_id=twin.patient_id
            )

    rows(2)
    admin_client.get(reverse(changelist))  # warm caches (content types, session)
    with django_assert_max_num_queries(100) as few:
        admin_client.get(reverse(changelist))
    rows(20)
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        response = admin_client.get(reverse(changelist))

    assert response.status_code == 200 and len(response.context["cl"].result_list) >= 20
    assert len(many.captured_queries) == len(few.captured_queries)
    assert response.context["cl"].model_admin.show_full_result_count is False


def _audit_rows(n):
    AuditEvent.objects.bulk_create(
        AuditEvent(actor_username="someone-else", action="read", resource_type="patient", resource_id=str(i))
        for i in range(n)
    )


def _patient_rows(n):
    CareTeamMembershipFactory.create_batch(n, role="primary")


def _counts_and_scans(queries):
    sql = [q["sql"].upper() for q in queries]
    counts = [s for s in sql if "COUNT(" in s]
    return counts, [s for s in sql if "DISTINCT" in s or "DATE_TRUNC" in s or "DJANGO_DATETIME_TRUNC" in s]


@pytest.mark.parametrize(
    ("changelist", "add_rows"),
    [("admin:patients_patient_changelist", _patient_rows), ("admin:audit_auditevent_changelist", _audit_rows)],
)
def test_heavy_changelists_never_count_or_scan_the_whole_table(
    admin_client, django_assert_max_num_queries, changelist, add_rows
):
    """
    Same queries for 10 and 200 rows, every COUNT bounded by a LIMIT (BoundedCountPaginator:
    Django counts the whole filtered table on every page otherwise), and no DISTINCT date
    scan (the audit list's date drill-down read every event per page).
    """
    add_rows(10)
    admin_client.get(reverse(changelist))  # warm caches (content types, session)
    with django_assert_max_num_queries(100) as few:
        admin_client.get(reverse(changelist))
    add_rows(190)
    with django_assert_max_num_queries(len(few.captured_queries)) as many:
        response = admin_client.get(reverse(changelist))

    counts, scans = _counts_and_scans(many.captured_queries)
    assert response.status_code == 200 and response.context["cl"].result_count >= 200
    assert len(many.captured_queries) == len(few.captured_queries)
    assert counts and all("LIMIT" in s for s in counts), counts
    assert scans == []


@pytest.mark.postgres_only  # the planner's estimate (EXPLAIN) exists on PostgreSQL only
def test_past_the_exact_limit_the_audit_list_shows_the_planners_estimate(
    admin_client, django_assert_max_num_queries, monkeypatch
):
    from django.db import connection

    from clarity.admin_mixins import BoundedCountPaginator

    monkeypatch.setattr(BoundedCountPaginator, "exact_up_to", 50)
    _audit_rows(400)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
    url = reverse("admin:audit_auditevent_changelist")

    with django_assert_max_num_queries(100) as queries:
        response = admin_client.get(url)
    past_the_end = admin_client.get(url, {"p": "40"})

    counts, scans = _counts_and_scans(queries.captured_queries)
    cl = response.context["cl"]
    assert cl.paginator.estimated and 51 <= cl.result_count <= 4000
    assert all("LIMIT" in s for s in counts) and scans == []
    # An estimate can overshoot: a page past the real end is empty, not an error redirect.
    assert past_the_end.status_code == 200 and list(past_the_end.context["cl"].result_list) == []


def test_below_the_exact_limit_the_count_is_exact(admin_client, monkeypatch):
    from clarity.admin_mixins import BoundedCountPaginator

    monkeypatch.setattr(BoundedCountPaginator, "exact_up_to", 50)
    _audit_rows(30)

    response = admin_client.get(reverse("admin:audit_auditevent_changelist"), {"own_lists": "shown"})

    cl = response.context["cl"]
    assert not cl.paginator.estimated and cl.result_count == AuditEvent.objects.count()
