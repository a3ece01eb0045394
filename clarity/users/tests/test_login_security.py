"""Sign-in hardening (issue #11): one canonical username, one lockout and audit trail for
the API and the Django admin, login_failed naming the account, hostile Authorization
headers and client addresses. Every test here runs on SQLite and PostgreSQL."""

import importlib
import io

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from clarity.api.tests.helpers import assert_problem, bearer_client, body_of, token_login
from clarity.audit.models import AuditEvent
from clarity.users.models import ApiToken, LoginFailure, User, canonical_username
from clarity.users.tests.factories import TEST_PASSWORD, UserFactory
from patients.tests.factories import make_patient

TOKEN_URL = "/api/v1/auth/token/"
ADMIN_LOGIN_URL = "/admin/login/"
WRONG = "wrong password entirely"

LONG_S = "\u017f"  # ſ LATIN SMALL LETTER LONG S: PostgreSQL UPPER() gives "S"
DOTLESS_I = "\u0131"  # ı LATIN SMALL LETTER DOTLESS I: PostgreSQL UPPER() gives "I"
KELVIN = "\u212a"  # K KELVIN SIGN: NFKC gives "K"


def _admin_login(client, username, password=TEST_PASSWORD):
    return client.post(ADMIN_LOGIN_URL, {"username": username, "password": password, "next": "/admin/"})


# --- 1. one canonical username --------------------------------------------------------


def test_the_canonical_form_folds_case_compatibility_characters_and_long_s():
    assert canonical_username(f" {LONG_S}EC-Clinic ") == "sec-clinic"
    assert canonical_username(f"{KELVIN}iosk") == "kiosk"
    # ı is a letter of its own (Turkish), not a spelling of i: it stays a different name.
    assert canonical_username(f"sec-cl{DOTLESS_I}nic") != "sec-clinic"


@pytest.mark.django_db
def test_users_are_stored_in_canonical_form_whoever_creates_them():
    user = User.objects.create_user(username=f"{LONG_S}EC-Clinic", email="sec@example.org", password=TEST_PASSWORD)
    user.refresh_from_db()
    assert user.username == "sec-clinic"


@pytest.mark.django_db
@pytest.mark.parametrize("variant", ["sec-clinic", "SEC-CLINIC", f"{LONG_S}ec-clinic", f"{LONG_S.upper()}EC-clinic"])
def test_failures_under_any_spelling_of_one_account_share_its_lockout(settings, variant):
    # Given five failures for sec-clinic
    UserFactory(username="sec-clinic")
    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT):
        assert token_login("sec-clinic", WRONG).status_code == 401

    # When a spelling that folds to the same name brings the right password
    response = token_login(variant)

    # Then it is the same locked account (it was 200 and a token on PostgreSQL: a fresh counter per variant)
    assert_problem(response, 429)
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_failures_under_a_variant_spelling_lock_the_real_account(settings):
    UserFactory(username="kiosk")
    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT):
        assert token_login(f"{KELVIN}IOSK", WRONG).status_code == 401

    assert_problem(token_login("kiosk"), 429)


@pytest.mark.django_db
def test_a_dotless_i_spelling_is_another_name_and_never_logs_into_the_account(settings):
    # PostgreSQL's UPPER() made `sec-clınic` match `sec-clinic`, with its own lockout counter.
    user = UserFactory(username="sec-clinic")
    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT):
        assert token_login("sec-clinic", WRONG).status_code == 401

    response = token_login(f"sec-cl{DOTLESS_I}nic")

    assert_problem(response, 401)
    assert not ApiToken.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_a_variant_spelling_with_the_right_password_signs_in_as_the_one_account():
    user = UserFactory(username="kiosk")

    response = token_login(f"{KELVIN}IOSK")

    assert response.status_code == 200
    assert ApiToken.objects.get().user_id == user.pk


@pytest.mark.django_db
@pytest.mark.parametrize("variant", ["SEC-Clinic", f"{LONG_S}ec-clinic", f"{KELVIN}iosk"])
def test_the_api_refuses_a_user_whose_canonical_name_is_taken(admin_user, variant):
    UserFactory(username="sec-clinic")
    UserFactory(username="kiosk")
    body = {
        "username": variant,
        "email": "new@example.org",
        "password": "a long enough passphrase 7",
        "role": "clinician",
    }

    response = bearer_client(admin_user).post("/api/v1/users/", body, format="json")

    assert_problem(response, 409)
    assert User.objects.count() == 3


@pytest.mark.django_db
def test_the_api_stores_a_new_user_under_the_canonical_name(admin_user):
    body = {
        "username": f"New-{KELVIN}elvin",
        "email": "new@example.org",
        "password": "a long enough passphrase 7",
        "role": "clinician",
    }

    response = bearer_client(admin_user).post("/api/v1/users/", body, format="json")

    assert response.status_code == 201
    assert body_of(response)["username"] == "new-kelvin"
    assert User.objects.filter(username="new-kelvin").exists()


@pytest.mark.django_db
# ﷺ (1 character) becomes words with spaces; 149 letters + ﬃ become 152 letters
@pytest.mark.parametrize("typed", ["\ufdfa", "a" * 149 + "\ufb03"])
def test_the_api_checks_length_and_characters_on_the_canonical_form(admin_user, typed):
    body = {
        "username": typed,
        "email": "new@example.org",
        "password": "a long enough passphrase 7",
        "role": "clinician",
    }

    response = bearer_client(admin_user).post("/api/v1/users/", body, format="json")

    assert_problem(response, 400)
    assert "username" in body_of(response)["errors"]
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_createsuperuser_stores_the_canonical_name_and_refuses_a_variant(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long enough passphrase 7")
    call_command(
        "createsuperuser", interactive=False, username="Root-Admin", email="root@example.org", stdout=io.StringIO()
    )
    assert User.objects.get().username == "root-admin"

    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "createsuperuser", interactive=False, username="ROOT-ADMIN", email="r2@example.org", stdout=io.StringIO()
        )
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_the_admin_add_user_form_refuses_a_variant_and_stores_the_canonical_name(admin_client):
    UserFactory(username="sec-clinic")
    form = {"email": "n@example.org", "role": "clinician", "password1": "a long enough passphrase 7",
            "password2": "a long enough passphrase 7", "usable_password": "true"}  # fmt: skip

    refused = admin_client.post("/admin/users/user/add/", {**form, "username": f"{LONG_S}ec-clinic"})
    assert refused.status_code == 200  # the form again, with its error
    assert User.objects.filter(email="n@example.org").count() == 0

    ligature = admin_client.post("/admin/users/user/add/", {**form, "username": "\ufdfa"})  # canonical form has spaces
    assert ligature.status_code == 200
    assert "username" in ligature.context["adminform"].form.errors
    assert User.objects.filter(email="n@example.org").count() == 0

    created = admin_client.post("/admin/users/user/add/", {**form, "username": "New-Person"})
    assert created.status_code == 302, created.content[:3000]
    assert User.objects.get(email="n@example.org").username == "new-person"


@pytest.mark.django_db
def test_the_data_migration_canonicalises_existing_usernames():
    user = UserFactory(username="placeholder")
    User.objects.filter(pk=user.pk).update(username=f"{LONG_S}EC-Clinic")  # as stored before the migration
    migration = importlib.import_module("clarity.users.migrations.0002_canonical_usernames")

    migration.canonicalise_usernames(apps, None)

    user.refresh_from_db()
    assert user.username == "sec-clinic"


@pytest.mark.django_db
def test_the_data_migration_refuses_two_accounts_that_become_one_name():
    first, second = UserFactory(username="a1"), UserFactory(username="a2")
    User.objects.filter(pk=first.pk).update(username="sec")
    User.objects.filter(pk=second.pk).update(username=f"{LONG_S}ec")
    migration = importlib.import_module("clarity.users.migrations.0002_canonical_usernames")

    with pytest.raises(RuntimeError, match=str(second.pk)):
        migration.canonicalise_usernames(apps, None)


# --- 3. the Django admin login: same lockout, same audit --------------------------------


@pytest.fixture
def staff(db):
    return UserFactory(username="staff-admin", role="admin", is_staff=True, is_superuser=True)


def test_admin_login_failures_lock_the_admin_login_with_a_clear_message(staff, settings):
    client = Client()
    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT):
        response = _admin_login(client, "staff-admin", WRONG)
        assert response.status_code == 200 and "_auth_user_id" not in client.session

    # The right password now: the form says the sign-in is locked and for how long
    locked = _admin_login(client, "staff-admin")

    assert locked.status_code == 200
    assert "_auth_user_id" not in client.session
    errors = locked.context["form"].non_field_errors()
    assert len(errors) == 1
    assert "locked" in errors[0] and "Try again in 15 minutes" in errors[0]
    assert "Try again in 15 minutes" in locked.content.decode()


def test_admin_and_api_failures_share_one_counter(staff, settings):
    client = Client()
    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT - 2):
        _admin_login(client, "staff-admin", WRONG)
    for _ in range(2):
        assert token_login("staff-admin", WRONG).status_code == 401

    assert_problem(token_login("staff-admin"), 429)
    assert "locked" in _admin_login(client, "Staff-Admin").context["form"].non_field_errors()[0]


def test_admin_login_failed_login_and_logout_are_audited(staff):
    client = Client()
    _admin_login(client, "staff-admin", WRONG)
    response = _admin_login(client, "staff-admin")
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(staff.pk)
    assert client.post("/admin/logout/").status_code == 200

    events = list(AuditEvent.objects.order_by("occurred_at", "id"))
    assert [(e.action, e.outcome) for e in events] == [
        ("login_failed", "failure"),
        ("login", "success"),
        ("logout", "success"),
    ]
    assert all(e.resource_type == "user" and e.resource_id == str(staff.pk) for e in events)
    assert [e.actor_id for e in events] == [None, staff.pk, staff.pk]


# --- 6 (part). login_failed names the account, never the text typed ---------------------


def test_a_failed_login_for_an_existing_account_references_the_account(clinician):
    token_login(clinician.username.upper(), WRONG)

    event = AuditEvent.objects.get(action="login_failed")
    assert (event.resource_type, event.resource_id, event.outcome) == ("user", str(clinician.pk), "failure")


def test_a_locked_refusal_references_the_account(clinician, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT):
        token_login(clinician.username, WRONG)
    token_login(clinician.username)

    denied = AuditEvent.objects.get(action="login_failed", outcome="denied")
    assert (denied.resource_type, denied.resource_id) == ("user", str(clinician.pk))


@pytest.mark.django_db
def test_a_failed_login_for_no_account_records_no_submitted_text():
    token_login("no-such-person-xyz", WRONG)

    event = AuditEvent.objects.get(action="login_failed")
    assert (event.resource_type, event.resource_id) == ("auth", "")
    assert "no-such-person" not in repr(AuditEvent.objects.values().get())


def test_a_right_password_leaves_no_counted_attempt(clinician):
    assert token_login(clinician.username).status_code == 200
    assert not LoginFailure.objects.exists()


# --- 10. hostile Authorization headers ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["\xa0", "\x85", " ", "\xa0Bearer", "Bearer\xa0abc", "Bearer \x85"])
def test_an_authorization_header_of_unicode_spaces_is_a_401(header):
    response = APIClient().get("/api/v1/patients/", HTTP_AUTHORIZATION=header)

    assert_problem(response, 401)


# --- 11. a client address that is not an IP ----------------------------------------------


def test_a_client_address_that_is_not_an_ip_is_stored_as_null_on_login_read_and_export(clinician):
    patient = make_patient(primary=clinician)
    extra = {"REMOTE_ADDR": "not-an-ip, really"}

    assert token_login(clinician.username, WRONG, **extra).status_code == 401
    assert token_login(clinician.username, **extra).status_code == 200
    client = bearer_client(clinician)
    assert client.get("/api/v1/patients/", **extra).status_code == 200
    assert client.get(f"/api/v1/patients/{patient.pk}/", **extra).status_code == 200
    export = client.get(f"/api/v1/patients/{patient.pk}/export/", **extra)
    assert export.status_code == 200
    b"".join(export.streaming_content) if getattr(export, "streaming", False) else export.content

    assert AuditEvent.objects.filter(action__in=["login_failed", "login", "list", "read", "export"]).count() >= 5
    assert set(AuditEvent.objects.values_list("ip", flat=True)) == {None}
    assert set(LoginFailure.objects.values_list("ip", flat=True)) <= {None}
