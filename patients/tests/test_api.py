"""The patients API: search, ordering, pagination, create, PATCH with If-Match, DELETE, care team, login link."""

import base64

import pytest

from clarity.api.tests.helpers import assert_problem, bearer_client, body_of
from clarity.users.tests.factories import UserFactory
from patients.models import CareTeamMembership, Patient
from patients.tests.factories import make_patient

LIST_URL = "/api/v1/patients/"


def detail_url(patient):
    return f"/api/v1/patients/{patient.pk}/"


def _ids(response):
    return [row["id"] for row in body_of(response)["results"]]


def _new_patient_body(**overrides):
    body = {
        "mrn": "A-1001",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "date_of_birth": "1985-12-10",
        "sex": "female",
    }
    body.update(overrides)
    return body


# --- search, filters, order ----------------------------------------------------------


@pytest.fixture
def searchable(admin_user, clinician):
    return {
        "anna": make_patient(primary=clinician, given_name="Anna", family_name="Smith", mrn="X100"),
        "annika": make_patient(primary=clinician, given_name="Bea", family_name="annika", mrn="X1001"),
        "joan": make_patient(primary=clinician, given_name="Joan", family_name="Hanna", mrn="Y200"),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ann", {"anna", "annika"}),  # prefix of a given or family name, any case
        ("ANN", {"anna", "annika"}),
        ("smi", {"anna"}),
        ("X100", {"anna"}),  # exact MRN, not a prefix of X1001
        ("X10", set()),  # partial MRN matches nothing
        ("anna", {"anna"}),
        ("nna", set()),  # not a substring search
    ],
)
def test_search_matches_a_name_prefix_case_insensitively_or_an_exact_mrn(admin_user, searchable, term, expected):
    response = bearer_client(admin_user).get(LIST_URL, {"search": term})

    assert response.status_code == 200
    assert set(_ids(response)) == {str(searchable[key].pk) for key in expected}


def test_status_filter_narrows_the_list_and_the_default_holds_every_status(admin_user, clinician):
    active = make_patient(primary=clinician)
    inactive = make_patient(primary=clinician, status="inactive")
    client = bearer_client(admin_user)

    assert set(_ids(client.get(LIST_URL))) == {str(active.pk), str(inactive.pk)}
    assert _ids(client.get(LIST_URL, {"status": "inactive"})) == [str(inactive.pk)]
    assert _ids(client.get(LIST_URL, {"status": "active"})) == [str(active.pk)]
    assert_problem(client.get(LIST_URL, {"status": "deceased"}), 400)


@pytest.mark.parametrize(
    "query", [{"search": ""}, {"search": "x" * 151}, {"sort": "mrn"}, "status=active&status=inactive"]
)
def test_bad_list_query_parameters_get_400(admin_user, query):
    response = (
        bearer_client(admin_user).get(LIST_URL, query)
        if isinstance(query, dict)
        else bearer_client(admin_user).get(f"{LIST_URL}?{query}")
    )

    assert_problem(response, 400)


@pytest.fixture
def seven_patients(clinician):
    # Ties on family and given name so the id tiebreak matters.
    names = [
        ("Brown", "Zoe"),
        ("adams", "Yan"),
        ("Brown", "Amy"),
        ("Clark", "Al"),
        ("Brown", "Amy"),
        ("Adams", "Xia"),
        ("Brown", "Amy"),
    ]
    return [make_patient(primary=clinician, family_name=f, given_name=g) for f, g in names]


def _expected_order(patients):
    rows = Patient.objects.filter(pk__in=[p.pk for p in patients]).order_by("family_name", "given_name", "id")
    return [str(p.pk) for p in rows]


def test_the_list_is_ordered_by_family_name_given_name_then_id(admin_user, seven_patients):
    response = bearer_client(admin_user).get(LIST_URL)

    ids = _ids(response)
    assert ids == _expected_order(seven_patients)
    rows = {str(p.pk): p for p in seven_patients}
    keys = [(rows[i].family_name, rows[i].given_name, i) for i in ids]
    assert keys == sorted(keys)


def test_cursor_pages_of_two_walk_forward_and_back_through_every_patient_once(admin_user, seven_patients):
    client = bearer_client(admin_user)
    expected = _expected_order(seven_patients)

    # When walking forward two at a time
    pages, url = [], f"{LIST_URL}?page_size=2"
    while url:
        body = body_of(client.get(url))
        pages.append([row["id"] for row in body["results"]])
        last_previous = body["previous"]
        url = body["next"]

    # Then every patient appears exactly once, in order
    assert [i for page in pages for i in page] == expected
    assert [len(p) for p in pages] == [2, 2, 2, 1]

    # And walking back from the last page gives the earlier pages in reverse
    back, url = [], last_previous
    while url:
        body = body_of(client.get(url))
        back.append([row["id"] for row in body["results"]])
        url = body["previous"]
    assert back == list(reversed(pages[:-1]))


def test_the_first_page_has_no_previous_and_the_last_has_no_next(admin_user, seven_patients):
    body = body_of(bearer_client(admin_user).get(LIST_URL, {"page_size": 50}))

    assert len(body["results"]) == 7
    assert body["next"] is None
    assert body["previous"] is None


@pytest.mark.parametrize("size", ["0", "201", "abc", "-1", "", "1.5", "٣", "²", "+5", " 5"])
def test_a_page_size_outside_1_to_200_gets_400(admin_user, size):
    response = bearer_client(admin_user).get(LIST_URL, {"page_size": size})

    problem = assert_problem(response, 400)
    assert "page_size" in problem["errors"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "!!!",
        _b64(b"[]"),
        _b64(b'{"v": ["a"], "r": false}'),
        _b64(b'{"v": ["a", "b", "not-a-uuid"], "r": false}'),
        _b64(b'{"v": ["a", "b", null], "r": false}'),
        _b64(b'{"v": ["a", "b", "6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d"], "r": "yes"}'),
        _b64(b"\xff\xfe"),
    ],
)
def test_a_bad_cursor_gets_400(admin_user, cursor):
    response = bearer_client(admin_user).get(LIST_URL, {"cursor": cursor})

    problem = assert_problem(response, 400)
    assert "cursor" in problem["errors"]


def _sealed(values, reverse=False):
    from patients.views import PATIENT_PAGES

    return PATIENT_PAGES.seal_values(values, reverse)


@pytest.mark.parametrize(
    "values",
    [
        ["a"],
        ["a", "b", "not-a-uuid"],
        ["a", "b", None],
        ["a", "b", True],
        ["a", "b", "6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d", "x"],
    ],
)
def test_a_sealed_cursor_with_the_wrong_shape_gets_400(admin_user, values):
    response = bearer_client(admin_user).get(LIST_URL, {"cursor": _sealed(values)})

    assert "cursor" in assert_problem(response, 400)["errors"]


def test_a_patient_list_cursor_carries_no_phi_and_cannot_be_read_or_forged(admin_user, clinician):
    # Given patients with distinctive names
    for n in range(3):
        make_patient(primary=clinician, family_name=f"Vexmoor{n}", given_name=f"Yolanda{n}")
    client = bearer_client(admin_user)

    # When an admin pages through them
    body = body_of(client.get(LIST_URL, {"page_size": 1}))
    cursor = body["next"].split("cursor=")[1].split("&")[0]

    # Then the cursor shows no name, in any decoding a proxy log reader might try
    raw = base64.urlsafe_b64decode(cursor.split(".")[-1] + "=" * (-len(cursor.split(".")[-1]) % 4))
    for text in (cursor, raw.decode("latin-1")):
        assert "Vexmoor" not in text and "Yolanda" not in text
        assert "VmV4bW9vc" not in text  # base64 of "Vexmoo"
    # And it works as given
    assert client.get(body["next"]).status_code == 200
    # But one altered character makes it a 400
    flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    assert "cursor" in assert_problem(client.get(LIST_URL, {"cursor": flipped}), 400)["errors"]
    # And a cursor made for another list (the users list) does not open here
    users_next = body_of(client.get("/api/v1/users/", {"page_size": 1}))["next"]
    if users_next:
        other = users_next.split("cursor=")[1].split("&")[0]
        assert "cursor" in assert_problem(client.get(LIST_URL, {"cursor": other}), 400)["errors"]


# --- create ----------------------------------------------------------------------------


def test_a_clinician_creates_a_patient_and_becomes_its_primary(clinician):
    # When a clinician creates a patient
    response = bearer_client(clinician).post(LIST_URL, _new_patient_body(), format="json")

    # Then it exists with the clinician as primary, at the Location given, with an ETag
    assert response.status_code == 201
    body = body_of(response)
    patient = Patient.objects.get(pk=body["id"])
    assert body["care_team"] == [{"clinician": str(clinician.pk), "role": "primary"}]
    assert response["Location"].endswith(f"/api/v1/patients/{patient.pk}/")
    assert response["ETag"] == '"1"'
    assert body["version"] == 1
    assert body["status"] == "active"
    assert set(body) == {
        "id", "mrn", "given_name", "family_name", "date_of_birth", "sex", "email", "phone", "address",
        "status", "user", "care_team", "version", "created_at", "updated_at",
    }  # fmt: skip


def test_the_location_of_a_created_patient_serves_it(clinician):
    client = bearer_client(clinician)
    created = client.post(LIST_URL, _new_patient_body(), format="json")

    response = client.get(created["Location"])

    assert response.status_code == 200
    assert body_of(response)["id"] == body_of(created)["id"]


def test_an_admin_creates_a_patient_for_a_primary_clinician(admin_user, clinician):
    response = bearer_client(admin_user).post(
        LIST_URL, _new_patient_body(primary_clinician=str(clinician.pk)), format="json"
    )

    assert response.status_code == 201
    assert body_of(response)["care_team"] == [{"clinician": str(clinician.pk), "role": "primary"}]


@pytest.mark.parametrize("primary", ["missing", "researcher", "admin", "nobody", None])
def test_an_admin_must_name_an_existing_clinician_as_primary(admin_user, researcher, primary):
    ids = {
        "researcher": str(researcher.pk),
        "admin": str(admin_user.pk),
        "nobody": "6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d",
        None: None,
    }
    body = _new_patient_body() if primary == "missing" else _new_patient_body(primary_clinician=ids[primary])

    response = bearer_client(admin_user).post(LIST_URL, body, format="json")

    problem = assert_problem(response, 400)
    assert "primary_clinician" in problem["errors"]
    assert not Patient.objects.exists()


def test_a_duplicate_mrn_gets_409_naming_the_field_not_the_value(clinician):
    make_patient(primary=clinician, mrn="DUP-777")

    response = bearer_client(clinician).post(LIST_URL, _new_patient_body(mrn="DUP-777"), format="json")

    problem = assert_problem(response, 409)
    assert "mrn" in problem["errors"]
    assert b"DUP-777" not in response.content
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_of_birth", "2999-01-01"),
        ("date_of_birth", "1899-12-31"),
        ("date_of_birth", "10/12/1985"),
        ("sex", "other"),
        ("phone", "555-1234"),
        ("email", "not-an-email"),
        ("mrn", ""),
        ("given_name", ""),
        ("favourite_colour", "blue"),
        ("id", "6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d"),
        ("version", 7),
        ("status", "inactive"),
    ],
)
def test_invalid_or_unknown_create_fields_get_400_naming_the_field(clinician, field, value):
    response = bearer_client(clinician).post(LIST_URL, _new_patient_body(**{field: value}), format="json")

    problem = assert_problem(response, 400)
    assert field in problem["errors"]
    assert not Patient.objects.exists()


def test_a_create_body_that_is_not_an_object_gets_400(clinician):
    response = bearer_client(clinician).post(LIST_URL, [_new_patient_body()], format="json")

    assert_problem(response, 400)


# --- read, PATCH, If-Match --------------------------------------------------------------


def test_the_etag_is_the_quoted_version(clinician):
    patient = make_patient(primary=clinician, version=4)

    response = bearer_client(clinician).get(detail_url(patient))

    assert response["ETag"] == '"4"'
    assert body_of(response)["version"] == 4


def test_a_patch_with_the_current_if_match_changes_the_patient_and_bumps_the_version(clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).patch(
        detail_url(patient), {"address": "1 New Road"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    patient.refresh_from_db()
    assert (patient.address, patient.version) == ("1 New Road", 2)


def test_a_patch_without_if_match_is_allowed(clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).patch(detail_url(patient), {"given_name": "Renamed"}, format="json")

    assert response.status_code == 200
    assert body_of(response)["given_name"] == "Renamed"


@pytest.mark.parametrize("if_match", ['"2"', '"0"', 'W/"1"', '"1x"', '"²"', '"١"', '"99999999999999999999"'])
def test_a_stale_if_match_gets_412_and_changes_nothing(clinician, if_match):
    patient = make_patient(primary=clinician, address="Old Road")

    response = bearer_client(clinician).patch(
        detail_url(patient), {"address": "New Road"}, format="json", HTTP_IF_MATCH=if_match
    )

    assert_problem(response, 412)
    patient.refresh_from_db()
    assert (patient.address, patient.version) == ("Old Road", 1)


@pytest.mark.parametrize("if_match", ["1", "'1'", '"1', "W/1", '"1" "2"'])
def test_a_malformed_if_match_gets_400(clinician, if_match):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).patch(
        detail_url(patient), {"address": "New Road"}, format="json", HTTP_IF_MATCH=if_match
    )

    assert_problem(response, 400)
    patient.refresh_from_db()
    assert patient.version == 1


def test_if_match_star_and_lists_are_accepted(clinician):
    patient = make_patient(primary=clinician)
    client = bearer_client(clinician)

    assert client.patch(detail_url(patient), {"address": "A"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    assert (
        client.patch(detail_url(patient), {"address": "B"}, format="json", HTTP_IF_MATCH='"9", "2"').status_code == 200
    )


@pytest.mark.parametrize(
    "body",
    [
        {"mrn": "CHANGED"},
        {"unknown": 1},
        {"version": 9},
        {"care_team": []},
        {"id": "6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d"},
        {"sex": "zzz"},
    ],
)
def test_a_patch_with_read_only_unknown_or_invalid_fields_gets_400(clinician, body):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).patch(detail_url(patient), body, format="json")

    problem = assert_problem(response, 400)
    assert set(body) <= set(problem["errors"])
    patient.refresh_from_db()
    assert patient.version == 1


def test_a_patch_can_clear_optional_contact_details(clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).patch(
        detail_url(patient), {"email": None, "phone": None, "address": None}, format="json"
    )

    assert response.status_code == 200
    assert [body_of(response)[k] for k in ("email", "phone", "address")] == [None, None, None]


# --- DELETE -------------------------------------------------------------------------


def test_delete_marks_the_patient_inactive_and_keeps_the_row(clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).delete(detail_url(patient))

    assert response.status_code == 204
    assert response.content == b""
    patient.refresh_from_db()
    assert patient.status == "inactive"
    assert patient.version == 2


def test_delete_with_a_stale_if_match_gets_412(clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).delete(detail_url(patient), HTTP_IF_MATCH='"5"')

    assert_problem(response, 412)
    patient.refresh_from_db()
    assert patient.status == "active"


# --- care team --------------------------------------------------------------------------


def _care_team_url(patient):
    return f"/api/v1/patients/{patient.pk}/care-team/"


def test_the_primary_adds_and_removes_a_consulting_clinician(clinician, other_clinician):
    patient = make_patient(primary=clinician)
    client = bearer_client(clinician)

    added = client.post(_care_team_url(patient), {"clinician": str(other_clinician.pk)}, format="json")
    assert added.status_code == 201
    assert body_of(added)["clinician"] == str(other_clinician.pk)
    assert body_of(added)["role"] == "consulting"
    listed = body_of(client.get(_care_team_url(patient)))["results"]
    assert [(m["clinician"], m["role"]) for m in listed] == [
        (str(clinician.pk), "primary"),
        (str(other_clinician.pk), "consulting"),
    ]

    removed = client.delete(f"{_care_team_url(patient)}{other_clinician.pk}/")
    assert removed.status_code == 204
    assert list(CareTeamMembership.objects.filter(patient=patient).values_list("clinician", flat=True)) == [
        clinician.pk
    ]


def test_the_new_consulting_clinician_then_sees_the_patient(clinician, other_clinician):
    patient = make_patient(primary=clinician)
    outsider = bearer_client(other_clinician)
    assert outsider.get(detail_url(patient)).status_code == 404

    bearer_client(clinician).post(_care_team_url(patient), {"clinician": str(other_clinician.pk)}, format="json")

    assert outsider.get(detail_url(patient)).status_code == 200
    assert _ids(outsider.get(LIST_URL)) == [str(patient.pk)]


def test_a_second_primary_gets_409(admin_user, clinician, other_clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(admin_user).post(
        _care_team_url(patient), {"clinician": str(other_clinician.pk), "role": "primary"}, format="json"
    )

    assert_problem(response, 409)
    assert CareTeamMembership.objects.filter(patient=patient).count() == 1


def test_adding_a_member_twice_gets_409(clinician, other_clinician):
    patient = make_patient(primary=clinician, consulting=[other_clinician])

    response = bearer_client(clinician).post(
        _care_team_url(patient), {"clinician": str(other_clinician.pk)}, format="json"
    )

    assert_problem(response, 409)


@pytest.mark.parametrize("who", ["researcher", "patient", "nobody"])
def test_only_an_existing_clinician_can_join_a_care_team(clinician, researcher, patient_user, who):
    patient = make_patient(primary=clinician)
    ids = {"researcher": researcher.pk, "patient": patient_user.pk, "nobody": "6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d"}

    response = bearer_client(clinician).post(_care_team_url(patient), {"clinician": str(ids[who])}, format="json")

    problem = assert_problem(response, 400)
    assert "clinician" in problem["errors"]


def test_removing_the_primary_gets_409(admin_user, clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(admin_user).delete(f"{_care_team_url(patient)}{clinician.pk}/")

    assert_problem(response, 409)
    assert CareTeamMembership.objects.filter(patient=patient, role="primary").exists()


def test_removing_someone_not_on_the_team_gets_404(admin_user, clinician, other_clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(admin_user).delete(f"{_care_team_url(patient)}{other_clinician.pk}/")

    assert_problem(response, 404)


# --- linking a patient's own login -------------------------------------------------------


def test_a_linked_patient_user_then_sees_their_own_record(clinician, patient_user):
    patient = make_patient(primary=clinician)
    own = bearer_client(patient_user)
    assert own.get(detail_url(patient)).status_code == 404

    response = bearer_client(clinician).patch(detail_url(patient), {"user": str(patient_user.pk)}, format="json")

    assert response.status_code == 200
    assert body_of(response)["user"] == str(patient_user.pk)
    read = own.get(detail_url(patient))
    assert read.status_code == 200
    assert body_of(read)["id"] == str(patient.pk)
    assert own.get(_care_team_url(patient)).status_code == 200


def test_a_patient_user_can_be_linked_at_creation(clinician, patient_user):
    response = bearer_client(clinician).post(LIST_URL, _new_patient_body(user=str(patient_user.pk)), format="json")

    assert response.status_code == 201
    assert body_of(response)["user"] == str(patient_user.pk)


@pytest.mark.parametrize("role", ["clinician", "researcher", "admin"])
def test_linking_a_user_who_is_not_a_patient_gets_400(clinician, role):
    patient = make_patient(primary=clinician)
    login = UserFactory(role=role)

    response = bearer_client(clinician).patch(detail_url(patient), {"user": str(login.pk)}, format="json")

    problem = assert_problem(response, 400)
    assert "user" in problem["errors"]
    patient.refresh_from_db()
    assert patient.user_id is None


def test_linking_a_login_already_linked_to_another_patient_gets_409(clinician, patient_user):
    make_patient(primary=clinician, user=patient_user)
    patient = make_patient(primary=clinician)
    client = bearer_client(clinician)

    patched = client.patch(detail_url(patient), {"user": str(patient_user.pk)}, format="json")
    created = client.post(LIST_URL, _new_patient_body(user=str(patient_user.pk)), format="json")

    assert "user" in assert_problem(patched, 409)["errors"]
    assert "user" in assert_problem(created, 409)["errors"]


def test_relinking_the_same_login_to_its_own_patient_is_fine(clinician, patient_user):
    patient = make_patient(primary=clinician, user=patient_user)

    response = bearer_client(clinician).patch(detail_url(patient), {"user": str(patient_user.pk)}, format="json")

    assert response.status_code == 200


def test_unlinking_a_login_removes_the_patients_access(clinician, patient_user):
    patient = make_patient(primary=clinician, user=patient_user)

    bearer_client(clinician).patch(detail_url(patient), {"user": None}, format="json")

    assert bearer_client(patient_user).get(detail_url(patient)).status_code == 404


@pytest.mark.parametrize("new_login", [True, False], ids=["relink", "unlink"])
def test_a_consulting_clinician_cannot_relink_a_patients_login(clinician, other_clinician, patient_user, new_login):
    # Given a patient with its own login, and a consulting clinician on its care team
    from clarity.audit.models import AuditEvent

    patient = make_patient(primary=clinician, consulting=[other_clinician], user=patient_user)
    accomplice = UserFactory(role="patient")

    # When the consulting clinician re-links (or unlinks) the login
    body = {"user": str(accomplice.pk) if new_login else None}
    response = bearer_client(other_clinician).patch(detail_url(patient), body, format="json")

    # Then it is refused, audited as denied, and the real patient keeps their access
    assert_problem(response, 403)
    patient.refresh_from_db()
    assert patient.user_id == patient_user.pk and patient.version == 1
    assert bearer_client(accomplice).get(detail_url(patient)).status_code == 404
    assert AuditEvent.objects.filter(action="denied", actor=other_clinician, patient_id=patient.pk).exists()


def test_a_consulting_clinician_may_still_patch_demographics_and_resend_the_same_login(
    clinician, other_clinician, patient_user
):
    patient = make_patient(primary=clinician, consulting=[other_clinician], user=patient_user)

    body = {"address": "2 New Road", "user": str(patient_user.pk)}
    response = bearer_client(other_clinician).patch(detail_url(patient), body, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize("who", ["primary", "admin"])
def test_linking_a_login_is_audited_as_an_access_grant(clinician, admin_user, patient_user, who):
    from clarity.audit.models import AuditEvent

    # Given a patient whose login is about to change hands (the first one was wrong)
    wrong = UserFactory(role="patient")
    patient = make_patient(primary=clinician, user=wrong)
    actor = clinician if who == "primary" else admin_user

    # When the primary (or an admin) links the right login
    response = bearer_client(actor).patch(detail_url(patient), {"user": str(patient_user.pk)}, format="json")

    # Then the change is audited as the revocation of one login and the grant to the other
    assert response.status_code == 200
    events = {
        (e.action, e.resource_id)
        for e in AuditEvent.objects.filter(resource_type="patient_login", patient_id=patient.pk, actor=actor)
    }
    assert events == {("delete", str(wrong.pk)), ("create", str(patient_user.pk))}


def test_a_login_linked_at_creation_is_audited_as_a_grant(clinician, patient_user):
    from clarity.audit.models import AuditEvent

    response = bearer_client(clinician).post(LIST_URL, _new_patient_body(user=str(patient_user.pk)), format="json")

    assert AuditEvent.objects.filter(
        resource_type="patient_login",
        action="create",
        resource_id=str(patient_user.pk),
        patient_id=body_of(response)["id"],
    ).exists()


@pytest.mark.parametrize("status", ["inactive", "active"])
def test_a_consulting_clinician_cannot_change_status_by_patch(clinician, other_clinician, status):
    # DELETE (which marks inactive) is for the admin and the primary; PATCH must not bypass that.
    patient = make_patient(
        primary=clinician, consulting=[other_clinician], status="active" if status == "inactive" else "inactive"
    )

    response = bearer_client(other_clinician).patch(detail_url(patient), {"status": status}, format="json")

    assert_problem(response, 403)
    patient.refresh_from_db()
    assert patient.status != status
    assert patient.version == 1


def test_the_primary_can_reactivate_a_patient_by_patch(clinician):
    patient = make_patient(primary=clinician, status="inactive")

    response = bearer_client(clinician).patch(detail_url(patient), {"status": "active"}, format="json")

    assert response.status_code == 200
    assert body_of(response)["status"] == "active"


def test_a_consulting_clinician_can_still_patch_other_fields(clinician, other_clinician):
    patient = make_patient(primary=clinician, consulting=[other_clinician])

    response = bearer_client(other_clinician).patch(detail_url(patient), {"phone": "+14155550199"}, format="json")

    assert response.status_code == 200
