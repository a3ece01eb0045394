"""Strict JSON types on every write: a number is not a string (issue #11, item 13)."""

import pytest
from rest_framework import serializers

from clarity.api.fields import STRING_FIELDS, StrictFieldsMixin
from clarity.api.tests.helpers import assert_problem, bearer_client
from patients.tests.factories import make_patient


def _write_serializers():
    # Importing the apps' serializer modules registers every write serializer.
    import clarity.users.serializers  # noqa: F401
    import interactions.serializers  # noqa: F401
    import patients.serializers  # noqa: F401
    import twins.serializers  # noqa: F401

    found, stack = [], list(StrictFieldsMixin.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda cls: cls.__qualname__)


STRING_FIELD_CASES = [
    pytest.param(cls, name, id=f"{cls.__qualname__}.{name}")
    for cls in _write_serializers()
    for name, field in cls().fields.items()
    if not field.read_only and isinstance(field, STRING_FIELDS)
]


def test_the_table_covers_the_write_bodies():
    names = {case.id for case in STRING_FIELD_CASES}
    for expected in (
        "PatientCreateSerializer.mrn",
        "PatientUpdateSerializer.address",
        "PatientUpdateSerializer.user",
        "TwinCreateSerializer.name",
        "TwinUpdateSerializer.status",
        "InteractionCreateSerializer.kind",
        "InteractionCreateSerializer.occurred_at",
        "CareTeamAddSerializer.clinician",
        "BreakGlassRequestSerializer.reason",
        "UserCreateSerializer.username",
        "TokenRequestSerializer.password",
    ):
        assert expected in names


@pytest.mark.parametrize("number", [221, 2.5, 0])
@pytest.mark.parametrize(("serializer_class", "name"), STRING_FIELD_CASES)
def test_a_number_for_a_string_field_is_refused_naming_the_field(serializer_class, name, number):
    serializer = serializer_class(data={name: number})

    assert not serializer.is_valid()
    assert serializer.errors[name] == ["Must be a string."]


@pytest.mark.parametrize("value", [True, ["x"], {"a": "b"}])
def test_other_non_strings_are_refused_too(value):
    from patients.serializers import PatientUpdateSerializer

    serializer = PatientUpdateSerializer(data={"address": value})

    assert not serializer.is_valid()
    assert "address" in serializer.errors


def test_a_numeric_address_on_patch_is_a_400_naming_the_field_and_changes_nothing(db):
    from clarity.users.tests.factories import UserFactory

    clinician = UserFactory(role="clinician")
    patient = make_patient(primary=clinician)

    response = bearer_client(clinician).patch(f"/api/v1/patients/{patient.pk}/", {"address": 221}, format="json")

    problem = assert_problem(response, 400)
    assert problem["errors"] == {"address": ["Must be a string."]}
    patient.refresh_from_db()
    assert patient.address != "221" and patient.version == 1


def test_a_numeric_username_at_login_is_a_400(db):
    from rest_framework.test import APIClient

    response = APIClient().post("/api/v1/auth/token/", {"username": 12345, "password": "whatever it is"}, format="json")

    assert assert_problem(response, 400)["errors"] == {"username": ["Must be a string."]}


def test_strings_still_pass():
    from patients.serializers import PatientUpdateSerializer

    serializer = PatientUpdateSerializer(data={"address": "221B Baker Street", "sex": "female"})

    assert serializer.is_valid(), serializer.errors
    assert isinstance(serializers.CharField(), STRING_FIELDS)
