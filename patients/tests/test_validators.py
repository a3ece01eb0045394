"""Each validation rule on patient data is one function (patients/validators.py): the API's
serializers and the model's full_clean() (or the service) refuse the same values with the
same message."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clarity.audit.services import AuditContext
from clarity.users.tests.factories import UserFactory
from patients import services
from patients.serializers import BreakGlassRequestSerializer, PatientCreateSerializer
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

VALID = {"mrn": "V-1", "given_name": "Val", "family_name": "Idator", "date_of_birth": "1980-05-01"}


def api_errors(**fields):
    serializer = PatientCreateSerializer(data={**VALID, **fields})
    assert not serializer.is_valid()
    return {key: [str(message) for message in messages] for key, messages in serializer.errors.items()}


def model_errors(**fields):
    with pytest.raises(ValidationError) as excinfo:
        PatientFactory.build(**fields).full_clean()
    return excinfo.value.message_dict


@pytest.mark.parametrize(
    "date_of_birth", [datetime.date(1899, 12, 31), timezone.localdate() + datetime.timedelta(days=1)]
)
def test_a_date_of_birth_out_of_range_gets_the_same_message_from_the_api_and_the_model(date_of_birth):
    from_api = api_errors(date_of_birth=date_of_birth.isoformat())["date_of_birth"]

    assert from_api == model_errors(date_of_birth=date_of_birth)["date_of_birth"]
    assert len(from_api) == 1


@pytest.mark.parametrize("phone", ["4155550123", "+0415555", "+1 415 555 0123", "+1415555012345678"])
def test_a_phone_number_that_is_not_e164_gets_the_same_message_from_the_api_and_the_model(phone):
    from_api = api_errors(phone=phone)["phone"]

    assert "Must be an E.164 number such as +14155550123." in from_api
    assert model_errors(phone=phone)["phone"] == ["Must be an E.164 number such as +14155550123."]


@pytest.mark.parametrize("reason", ["x" * 19, "   " + "x" * 19 + "   "])
def test_a_short_break_glass_reason_gets_the_same_message_from_the_api_and_the_service(reason):
    serializer = BreakGlassRequestSerializer(data={"reason": reason})
    assert not serializer.is_valid()

    with pytest.raises(ValidationError) as excinfo:
        services.break_glass_grant(
            actor=UserFactory(role="clinician"),
            patient_id=PatientFactory().pk,
            reason=reason,
            ctx=AuditContext(actor=None),
        )

    assert [str(message) for message in serializer.errors["reason"]] == excinfo.value.message_dict["reason"]
    assert excinfo.value.message_dict["reason"] == ["Give a reason of at least 20 characters."]
