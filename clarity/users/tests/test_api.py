"""Authentication through the API: bearer tokens, lockout, session login with CSRF, users."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clarity.api.tests.helpers import assert_problem, bearer_client, body_of, issue_token, token_login
from clarity.audit.models import AuditEvent
from clarity.users.models import ApiToken, User, hash_token
from clarity.users.tests.factories import TEST_PASSWORD, UserFactory

TOKEN_URL = "/api/v1/auth/token/"
ME_URL = "/api/v1/users/me/"


def test_a_token_from_the_token_endpoint_authenticates_as_a_bearer_header(clinician):
    # Given a token issued for a username and password
    response = token_login(clinician.username)
    assert response.status_code == 200
    body = body_of(response)
    assert set(body) == {"token", "expires_at"}

    # When it is presented as a bearer token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    me = client.get(ME_URL)

    # Then the caller is that user
    assert me.status_code == 200
    assert body_of(me)["id"] == str(clinician.pk)


def test_the_login_is_case_insensitive_on_the_username(clinician):
    response = token_login(clinician.username.upper())

    assert response.status_code == 200


def test_tokens_are_stored_hashed_never_raw(clinician):
    # Given an issued token
    raw = body_of(token_login(clinician.username))["token"]

    # Then the database holds only its hash
    stored = ApiToken.objects.get(user=clinician)
    assert stored.key_hash == hash_token(raw)
    assert raw not in [str(value) for value in ApiToken.objects.values_list().get()]


def test_an_expired_token_gets_401(clinician):
    # Given a token whose expiry has passed
    raw = issue_token(clinician)
    past = timezone.now() - datetime.timedelta(hours=2)
    ApiToken.objects.filter(user=clinician).update(created_at=past, expires_at=past + datetime.timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    # When it is used
    response = client.get(ME_URL)

    # Then it is refused with a Bearer challenge
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer", "Bearer a b", "Bearer " + "x" * 300])
def test_a_bad_bearer_header_gets_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(ME_URL)

    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


def test_logout_revokes_the_presented_token(clinician):
    # Given a logged-in client
    raw = body_of(token_login(clinician.username))["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    # When it logs out
    response = client.post("/api/v1/auth/logout/")

    # Then the token no longer works, and the logout is audited
    assert response.status_code == 204
    assert_problem(client.get(ME_URL), 401)
    assert ApiToken.objects.get(user=clinician).revoked_at is not None
    assert AuditEvent.objects.filter(action="logout", actor=clinician).count() == 1


@pytest.mark.parametrize("body", [{"username": "someone"}, {"password": "x"}, {}])
def test_a_token_request_missing_a_field_gets_400(db, body):
    response = APIClient().post(TOKEN_URL, body, format="json")

    problem = assert_problem(response, 400)
    assert problem["errors"]


def test_bad_credentials_get_401_and_are_audited_as_login_failed(clinician):
    # When someone tries a wrong password
    response = token_login(clinician.username, "wrong password entirely")

    # Then they get 401, the failure is audited, and the password is nowhere in the trail
    assert_problem(response, 401)
    event = AuditEvent.objects.get(action="login_failed")
    assert event.outcome == "failure"
    assert "wrong password entirely" not in str(AuditEvent.objects.values().get())


def test_a_successful_login_is_audited(clinician):
    token_login(clinician.username)

    event = AuditEvent.objects.get(action="login")
    assert event.actor_id == clinician.pk
    assert event.actor_role == "clinician"


def test_five_failures_lock_the_account_with_429_and_retry_after(clinician, settings):
    # Given five failed logins for one account
    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT):
        assert token_login(clinician.username, "wrong password entirely").status_code == 401

    # When the right password is then tried
    response = token_login(clinician.username)

    # Then the account is locked for the lockout period
    assert_problem(response, 429)
    assert 0 < int(response["Retry-After"]) <= settings.LOGIN_LOCKOUT.total_seconds()
    assert not ApiToken.objects.filter(user=clinician).exists()


def test_four_failures_do_not_lock_the_account(clinician, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT - 1):
        token_login(clinician.username, "wrong password entirely")

    assert token_login(clinician.username).status_code == 200


def test_twenty_failures_from_one_ip_lock_that_ip_with_429(clinician, settings):
    # Given twenty failures from one address, each for a different account
    for i in range(settings.LOGIN_FAILURE_LIMIT_IP):
        assert token_login(f"nobody{i}", "wrong password entirely", REMOTE_ADDR="203.0.113.9").status_code == 401

    # When a valid login comes from that address
    locked = token_login(clinician.username, REMOTE_ADDR="203.0.113.9")

    # Then it is refused with 429, while another address still logs in
    assert_problem(locked, 429)
    assert int(locked["Retry-After"]) > 0
    assert token_login(clinician.username, REMOTE_ADDR="198.51.100.1").status_code == 200


def test_lockout_ends_when_the_failures_are_older_than_the_window(clinician, settings):
    # Given five failures that happened longer ago than the lockout window
    from clarity.users.models import LoginFailure

    for _ in range(settings.LOGIN_FAILURE_LIMIT_ACCOUNT):
        token_login(clinician.username, "wrong password entirely")
    LoginFailure.objects.update(occurred_at=timezone.now() - settings.LOGIN_LOCKOUT - datetime.timedelta(seconds=1))

    # Then the account logs in again
    assert token_login(clinician.username).status_code == 200


def test_a_django_session_can_read_the_api(clinician):
    # Given a browser session logged in with Django's login
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=clinician.username, password=TEST_PASSWORD)

    # When it reads
    response = client.get(ME_URL)

    # Then it is the session's user
    assert response.status_code == 200
    assert body_of(response)["id"] == str(clinician.pk)


def test_a_session_write_without_a_csrf_token_is_refused(admin_user):
    # Given a session-authenticated admin without a CSRF token
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=admin_user.username, password=TEST_PASSWORD)

    # When it sends an unsafe request
    response = client.post(
        "/api/v1/users/",
        {
            "username": "csrfvictim",
            "email": "csrf@example.org",
            "password": "a long enough passphrase 7",
            "role": "clinician",
        },
        format="json",
    )

    # Then it is refused and nothing is created
    assert_problem(response, 403)
    assert not User.objects.filter(username="csrfvictim").exists()
    # And the refusal is in the audit trail, against the session's account
    from clarity.audit.models import AuditEvent

    denied = AuditEvent.objects.get(action="denied")
    assert (denied.actor_id, denied.outcome, denied.resource_type) == (admin_user.pk, "denied", "user")


def test_a_session_write_with_the_csrf_token_is_accepted(admin_user):
    # Given a session-authenticated admin holding the CSRF cookie
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=admin_user.username, password=TEST_PASSWORD)
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token

    # When it sends the token back in the header
    response = client.post(
        "/api/v1/users/",
        {
            "username": "withcsrf",
            "email": "withcsrf@example.org",
            "password": "a long enough passphrase 7",
            "role": "clinician",
        },
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )

    # Then the write goes through
    assert response.status_code == 201


def test_an_admin_creates_a_user_and_a_case_insensitive_duplicate_gets_409(admin_user):
    client = bearer_client(admin_user)
    body = {
        "username": "Dana",
        "email": "Dana@Example.org",
        "password": "a long enough passphrase 7",
        "role": "clinician",
    }

    created = client.post("/api/v1/users/", body, format="json")
    duplicate_name = client.post(
        "/api/v1/users/", {**body, "username": "dana", "email": "other@example.org"}, format="json"
    )
    duplicate_email = client.post(
        "/api/v1/users/", {**body, "username": "dana2", "email": "dana@example.ORG"}, format="json"
    )

    assert created.status_code == 201
    assert body_of(created)["role"] == "clinician"
    assert "password" not in body_of(created)
    assert_problem(duplicate_name, 409)
    assert_problem(duplicate_email, 409)


def test_a_weak_password_for_a_new_user_gets_400_without_echoing_it(admin_user):
    response = bearer_client(admin_user).post(
        "/api/v1/users/",
        {"username": "weak", "email": "weak@example.org", "password": "short", "role": "clinician"},
        format="json",
    )

    problem = assert_problem(response, 400)
    assert "password" in problem["errors"]
    assert b"short" not in response.content.replace(b"too short", b"")


def test_the_users_list_walks_every_user_once(admin_user):
    # Given a few users
    for _ in range(4):
        UserFactory()
    client = bearer_client(admin_user)

    # When an admin walks the list two at a time
    seen, url = [], "/api/v1/users/?page_size=2"
    while url:
        page = body_of(client.get(url))
        seen += [row["id"] for row in page["results"]]
        url = page["next"]

    # Then every user appears exactly once
    assert sorted(seen) == sorted(str(pk) for pk in User.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen))


def test_a_session_logout_ends_the_session_and_is_audited(clinician):
    # Given a session login holding a CSRF token
    from django.middleware.csrf import _get_new_csrf_string

    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=clinician.username, password=TEST_PASSWORD)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token

    # When it logs out through the API
    response = client.post("/api/v1/auth/logout/", HTTP_X_CSRFTOKEN=token)

    # Then the session no longer authenticates, and the logout is in the trail
    assert response.status_code == 204
    assert_problem(client.get(ME_URL), 401)
    assert AuditEvent.objects.filter(action="logout", actor=clinician).count() == 1


def test_the_users_list_refuses_unknown_query_parameters(admin_user):
    response = bearer_client(admin_user).get("/api/v1/users/", {"role": "admin"})

    assert "role" in assert_problem(response, 400)["errors"]


def test_an_admin_created_through_the_api_can_review_patients_in_the_django_admin(admin_user, client_for):
    from django.test import Client

    body = {
        "username": "second-admin",
        "email": "second@example.org",
        "password": "a long enough passphrase 91",
        "role": "admin",
    }
    assert client_for(admin_user).post("/api/v1/users/", body, format="json").status_code == 201
    browser = Client()
    assert browser.login(username="second-admin", password=body["password"])
    assert browser.get("/admin/patients/patient/").status_code == 200
    clinician_body = {**body, "username": "plain-clinician", "email": "pc@example.org", "role": "clinician"}
    assert client_for(admin_user).post("/api/v1/users/", clinician_body, format="json").status_code == 201
    assert browser.login(username="plain-clinician", password=body["password"])
    assert browser.get("/admin/patients/patient/").status_code == 302  # not staff: sent to the login page
