"""One function per validation rule on patient data, used by the models' `clean()` (and so
by services through `full_clean()`) and by the API serializers, so a rule and its message
live here only. Where the database can hold a rule, a constraint on the model is the
backstop for writes that skip both (bulk updates, SQL): defence in depth, not a second
definition to keep in step."""

import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator, RegexValidator
from django.utils import timezone

# The database refuses earlier dates (CheckConstraint patients_patient_dob_after_1900);
# "not in the future" depends on the day, which a constraint cannot say.
EARLIEST_DATE_OF_BIRTH = datetime.date(1900, 1, 1)

E164_PATTERN = r"^\+[1-9][0-9]{1,14}\Z"


def validate_date_of_birth(value: datetime.date) -> None:
    """Between 1900-01-01 and today."""
    if value > timezone.localdate():
        raise ValidationError("Date of birth cannot be in the future.", code="future")
    if value < EARLIEST_DATE_OF_BIRTH:
        raise ValidationError("Date of birth cannot be before 1900-01-01.", code="too_early")


# An E.164 number: "+", a country code that does not start with 0, at most 15 digits.
# No database constraint: the column holds ciphertext (clarity/crypto.py).
validate_e164_phone = RegexValidator(E164_PATTERN, "Must be an E.164 number such as +14155550123.")


class _TrimmedMinLengthValidator(MinLengthValidator):
    """MinLengthValidator on the text without its surrounding whitespace (a reason of 25
    spaces is no reason). A MinLengthValidator still, so the OpenAPI document shows the
    minimum (drf-spectacular reads it from the serializer field's validators)."""

    def clean(self, x):
        return len(x.strip())


# The database refuses a stored reason shorter than 20 characters (CheckConstraint
# patients_breakglassgrant_reason_min_length, which full_clean() also checks); the service
# stores the reason trimmed. A reason, not a token gesture. The longest reason is the serializer's `max_length`.
validate_break_glass_reason = _TrimmedMinLengthValidator(20, "Give a reason of at least 20 characters.")
