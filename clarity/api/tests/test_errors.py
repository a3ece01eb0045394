"""Every error is an RFC 9457 problem that never echoes what the client sent."""

import pytest
from rest_framework.test import APIClient

from clarity.api.tests.helpers import assert_problem, bearer_client
from patients.models import Patient
from patients.tests.factories import make_patient

SECRET = "zzz-secret-zzz"


@pytest.fixture
def doctor(clinician):
    return bearer_client(clinician)


def _post_raw(client, body: bytes, content_type="application/json", path="/api/v1/patients/"):
    return client.generic("POST", path, body, content_type=content_type)


@pytest.mark.parametrize("body", [b"{", b'{"mrn": }', b"\xff\xfe", b'{"a": NaN}', b"[1,]", b'{"a": 1} trailing'])
def test_malformed_json_gets_400(doctor, body):
    response = _post_raw(doctor, body)

    problem = assert_problem(response, 400)
    assert problem["detail"] == "The request body is not valid JSON."


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
def test_a_body_that_is_not_json_gets_415(doctor, content_type):
    response = _post_raw(doctor, b'{"mrn": "A"}', content_type=content_type)

    assert_problem(response, 415)
    assert not Patient.objects.exists()


def test_json_with_a_charset_parameter_is_accepted(doctor):
    body = b'{"mrn": "CS-1", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01"}'

    response = _post_raw(doctor, body, content_type="application/json; charset=utf-8")

    assert response.status_code == 201


def test_a_body_over_10_mib_gets_413(doctor):
    body = b'{"address": "' + b"a" * (10 * 1024 * 1024) + b'"}'

    response = _post_raw(doctor, body)

    assert_problem(response, 413)


def test_a_body_just_under_10_mib_is_parsed(doctor):
    body = b'{"zz": "' + b"a" * (10 * 1024 * 1024 - 100) + b'"}'

    response = _post_raw(doctor, body)

    # Parsed, then refused for its unknown field: not a 413.
    assert "zz" in assert_problem(response, 400)["errors"]


@pytest.mark.parametrize(("depth", "status"), [(32, 400), (33, 400), (2000, 400)])
def test_nesting_deeper_than_32_levels_gets_400(doctor, depth, status):
    body = ("[" * depth + "]" * depth).encode()

    response = _post_raw(doctor, body)

    problem = assert_problem(response, status)
    if depth > 32:
        assert "32" in problem["detail"]
    else:
        assert "32" not in problem["detail"]  # parsed fine; refused only because it is not an object


@pytest.mark.parametrize(
    "body",
    [
        b'{"mrn": "A\\u0000B", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01"}',
        b'{"mr\\u0000n": "A"}',
        b'["\\u0000"]',
        b'{"a": [{"b": "\\u0000"}]}',
    ],
)
def test_a_nul_character_anywhere_gets_400(doctor, body):
    response = _post_raw(doctor, body)

    problem = assert_problem(response, 400)
    assert "NUL" in problem["detail"]
    assert not Patient.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v1/patients/x/y/z/", "/api/", "/api/v2/patients/"])
def test_an_unknown_url_under_api_gets_a_404_problem(doctor, path):
    assert_problem(doctor.get(path), 404)


@pytest.mark.parametrize(
    "path", ["/api/v1/patients/not-a-uuid/", "/api/v1/patients/123/care-team/", "/api/v1/patients/6f1c8f9e/"]
)
def test_an_invalid_uuid_in_the_path_gets_404(doctor, path):
    assert_problem(doctor.get(path), 404)


def test_an_unknown_patient_id_gets_404(doctor):
    assert_problem(doctor.get("/api/v1/patients/6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d/"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/v1/patients/"),
        ("delete", "/api/v1/patients/"),
        ("put", "/api/v1/patients/{id}/"),
        ("get", "/api/v1/patients/{id}/break-glass/"),
        ("get", "/api/v1/auth/logout/"),
        ("patch", "/api/v1/users/me/"),
        ("delete", "/api/v1/audit-events/"),
    ],
)
def test_a_wrong_method_gets_a_405_problem_with_allow(admin_user, clinician, method, path):
    patient = make_patient(primary=clinician)

    response = getattr(bearer_client(admin_user), method)(path.format(id=patient.pk))

    assert_problem(response, 405)
    assert method.upper() not in response["Allow"]


def test_a_wrong_method_on_the_token_endpoint_gets_405(db):
    response = APIClient().get("/api/v1/auth/token/")

    assert_problem(response, 405)


@pytest.mark.parametrize(
    "body",
    [
        {"mrn": "S-1", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01", "sex": SECRET},
        {"mrn": "S-1", "given_name": "A", "family_name": "B", "date_of_birth": SECRET},
        {"mrn": "S-1", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01", "email": SECRET},
        {"mrn": "S-1", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01", "phone": SECRET},
        {"mrn": "S-1", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01", "user": SECRET},
        {
            "mrn": "S-1",
            "given_name": "A",
            "family_name": "B",
            "date_of_birth": "1990-01-01",
            "primary_clinician": SECRET,
        },
        {"mrn": SECRET + " !", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01"},
        {"mrn": "S-1", "given_name": ["A", SECRET], "family_name": {"x": SECRET}, "date_of_birth": 19900101},
        {"mrn": "S-1", "given_name": SECRET * 20, "family_name": "B", "date_of_birth": "1990-01-01"},
    ],
)
def test_an_invalid_value_is_never_echoed_in_the_error(doctor, body):
    response = doctor.post("/api/v1/patients/", body, format="json")

    assert_problem(response, 400)
    assert SECRET.encode() not in response.content


@pytest.mark.parametrize(
    "query",
    [
        {"status": SECRET},
        {"page_size": SECRET},
        {"cursor": SECRET},
        {"search": SECRET * 20},
    ],
)
def test_an_invalid_query_value_is_never_echoed_in_the_error(doctor, query):
    response = doctor.get("/api/v1/patients/", query)

    assert_problem(response, 400)
    assert SECRET.encode() not in response.content


def test_an_invalid_patch_value_is_never_echoed(clinician, doctor):
    patient = make_patient(primary=clinician)

    response = doctor.patch(
        f"/api/v1/patients/{patient.pk}/", {"status": SECRET, "sex": SECRET}, format="json", HTTP_IF_MATCH=f'"{SECRET}"'
    )

    assert response.status_code in (400, 412)
    assert SECRET.encode() not in response.content


def test_an_invalid_care_team_role_is_never_echoed(clinician, other_clinician, doctor):
    patient = make_patient(primary=clinician)

    response = doctor.post(
        f"/api/v1/patients/{patient.pk}/care-team/",
        {"clinician": str(other_clinician.pk), "role": SECRET},
        format="json",
    )

    assert "role" in assert_problem(response, 400)["errors"]
    assert SECRET.encode() not in response.content


def test_an_invalid_audit_filter_is_never_echoed(admin_user):
    response = bearer_client(admin_user).get("/api/v1/audit-events/", {"action": SECRET, "since": SECRET})

    assert_problem(response, 400)
    assert SECRET.encode() not in response.content


def test_a_bad_login_never_echoes_the_username_or_password(db):
    response = APIClient().post("/api/v1/auth/token/", {"username": SECRET, "password": SECRET + "pw"}, format="json")

    assert_problem(response, 401)
    assert SECRET.encode() not in response.content


def test_an_unexpected_exception_is_a_500_problem_without_details(doctor, monkeypatch):
    # Given a view that fails in a way nobody anticipated
    from patients import views

    def boom(*args, **kwargs):
        raise RuntimeError(f"internal detail {SECRET}")

    monkeypatch.setattr(views, "patients_visible_to", boom)
    doctor.raise_request_exception = False

    # When it is called
    response = doctor.get("/api/v1/patients/")

    # Then the client learns nothing about the failure
    assert_problem(response, 500)
    assert SECRET.encode() not in response.content
    assert b"RuntimeError" not in response.content


def _cursor_with(value: str) -> str:
    # A validly sealed cursor (as the server would make one) holding a NUL.
    from patients.views import PATIENT_PAGES

    return PATIENT_PAGES.seal_values([value, "b", "6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d"], False)


@pytest.mark.parametrize(
    "query",
    [
        {"search": "An\x00n"},
        {"status": "active\x00"},
        {"cursor": "\x00"},
        {"cursor": _cursor_with("a\x00")},
        {"page_size": "5\x00"},
    ],
)
def test_a_nul_character_in_a_query_parameter_gets_400_not_500(admin_user, clinician, query):
    # PostgreSQL refuses NUL in text parameters; that must surface as a client error.
    make_patient(primary=clinician)
    client = bearer_client(admin_user)
    client.raise_request_exception = False

    response = client.get("/api/v1/patients/", query)

    assert_problem(response, 400)


def test_a_nul_character_in_an_audit_filter_gets_400(admin_user):
    client = bearer_client(admin_user)
    client.raise_request_exception = False

    response = client.get("/api/v1/audit-events/", {"action": "read\x00"})

    assert_problem(response, 400)


@pytest.mark.parametrize("method", ["options"])
def test_options_is_not_advertised_in_allow_when_it_is_refused(doctor, clinician, method):
    patient = make_patient(primary=clinician)

    response = getattr(doctor, method)(f"/api/v1/patients/{patient.pk}/")

    assert_problem(response, 405)
    assert "OPTIONS" not in response["Allow"]
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "PATCH", "DELETE"}


def test_head_on_a_readable_resource_answers_like_get_without_a_body(doctor, clinician):
    patient = make_patient(primary=clinician)

    response = doctor.head(f"/api/v1/patients/{patient.pk}/")

    assert response.status_code == 200
    assert response["ETag"] == '"1"'


def test_a_nul_character_inside_a_users_list_cursor_gets_400(admin_user):
    from clarity.users.views import USER_PAGES

    cursor = USER_PAGES.seal_values(["adm\x00", "6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d"], False)
    client = bearer_client(admin_user)
    client.raise_request_exception = False

    response = client.get("/api/v1/users/", {"cursor": cursor})

    assert "cursor" in assert_problem(response, 400)["errors"]


def test_a_value_the_database_refuses_is_a_400_not_a_500(doctor, monkeypatch):
    from django.db import DataError

    from patients import views

    def refuse(*args, **kwargs):
        raise DataError("invalid byte sequence")

    monkeypatch.setattr(views, "patients_visible_to", refuse)
    doctor.raise_request_exception = False

    response = doctor.get("/api/v1/patients/")

    assert_problem(response, 400)
    assert b"byte sequence" not in response.content


# --- unmatched /api/ paths and the trailing slash, in every mode (issue #11, item 12) ---------
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here/",
        "/api/v1/patients/not-a-uuid/",
        "/api/v1/twins/123/",
        "/api/",
        "/api/v9/",
        "/api/v1/patients/x",
    ],
)
def test_an_unmatched_api_path_is_a_404_problem_even_under_debug(clinician, settings, debug, path):
    settings.DEBUG = debug
    client = bearer_client(clinician, enforce_csrf_checks=True)
    client.raise_request_exception = False

    response = client.get(path) if path != "/api/v1/patients/x" else client.post(path + "/y/", {}, format="json")

    assert_problem(response, 404)
    assert b"<html" not in response.content.lower()


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("method", ["patch", "post", "put", "delete"])
def test_an_unsafe_method_without_the_trailing_slash_is_redirected_with_its_method_kept(
    doctor, clinician, settings, debug, method
):
    settings.DEBUG = debug
    doctor.raise_request_exception = False
    patient = make_patient(primary=clinician)

    client = bearer_client(clinician, enforce_csrf_checks=True)  # as a real client: no CSRF exemption
    client.raise_request_exception = False

    response = getattr(client, method)(f"/api/v1/patients/{patient.pk}?x=1", {"address": "Elsewhere"}, format="json")

    assert response.status_code == 308
    assert response["Location"] == f"/api/v1/patients/{patient.pk}/?x=1"


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_get_without_the_trailing_slash_is_still_a_301(doctor, settings, debug):
    settings.DEBUG = debug

    response = doctor.get("/api/v1/patients")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/patients/"
