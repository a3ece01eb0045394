"""Serializer building blocks shared by every API app."""

from datetime import datetime

from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 timestamps that must carry a UTC offset; DRF would silently assume UTC."""

    default_error_messages = {
        "naive": "Timestamps must include a UTC offset (e.g. 2026-01-31T09:00:00Z).",
        "invalid": "Must be an ISO 8601 timestamp with a UTC offset.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            parsed = super().to_internal_value(value)
            try:
                raw = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                self.fail("invalid")
            if raw.tzinfo is None:
                self.fail("naive")
            return parsed
        self.fail("invalid")


# Fields whose JSON type is a string in the contract. DRF's CharField (and so EmailField,
# RegexField), ChoiceField and UUIDField coerce numbers (`"address": 221` was stored as
# "221", a UUIDField accepts an integer): the contract's types are strict, so these take
# only JSON strings, checked once here for every write serializer.
STRING_FIELDS = (
    serializers.CharField,
    serializers.ChoiceField,
    serializers.UUIDField,
    serializers.DateField,
    serializers.DateTimeField,
)

# The most unknown keys one error body names (the count is given in full): enough to see
# what a client got wrong, without an error entry per key of a hostile body.
MAX_UNKNOWN_KEYS_NAMED = 20


class StrictFieldsMixin:
    """
    Refuse unknown and read-only fields in a write body with a 400 naming them, instead
    of silently ignoring them (a client that sends `mrn` on PATCH must learn it did nothing),
    and a value of the wrong JSON type for a string field (a number is not a string).
    """

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"body": ["Must be a JSON object."]})
        fields = self.fields
        errors = {}
        unknown = 0
        for key, value in data.items():
            field = fields.get(key)
            if field is None:
                # A body of 100,000 unknown keys costs one pass, not 100,000 error entries.
                unknown += 1
                if unknown <= MAX_UNKNOWN_KEYS_NAMED:
                    errors[str(key)[:64]] = ["Unknown field."]
            elif field.read_only:
                errors[key] = ["This field is read-only."]
            elif value is not None and not isinstance(value, str) and isinstance(field, STRING_FIELDS):
                errors[key] = ["Must be a string."]
        if unknown > MAX_UNKNOWN_KEYS_NAMED:
            errors = {"body": [f"{unknown} unknown fields; the first {MAX_UNKNOWN_KEYS_NAMED} are named."], **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def parse_query_datetime(value: str, name: str):
    """Query-string timestamps follow the same rule as bodies: ISO 8601 with an offset."""
    from clarity.api.errors import Problem

    field = AwareDateTimeField()
    try:
        return field.to_internal_value(value)
    except serializers.ValidationError as exc:
        # The field's own fixed messages (naive, malformed, out of range); none quotes the value.
        raise Problem(
            400, "A query parameter is invalid.", errors={name: [str(message) for message in exc.detail]}
        ) from None
