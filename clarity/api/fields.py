"""Serializer building blocks shared by every API app."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.fields import SkipField, get_error_detail


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 timestamps that must carry a UTC offset; DRF would silently assume UTC."""

    default_error_messages = {
        "naive": "Timestamps must include a UTC offset (e.g. 2026-01-31T09:00:00Z).",
        "invalid": "Must be an ISO 8601 timestamp with a UTC offset.",
    }

    def __init__(self, **kwargs):
        # Values are converted to TIME_ZONE (UTC) without looking up the active zone per
        # value (DRF's default does, in an asgiref Local: ~4 % of a 100-item batch's CPU).
        kwargs.setdefault("default_timezone", timezone.get_default_timezone())
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        # Parsed once, here: DRF's own parse would make a naive value aware and hide that
        # the client left the offset out.
        if not isinstance(value, str):
            self.fail("invalid")
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid")
        if parsed.tzinfo is None:
            self.fail("naive")
        return self.enforce_timezone(parsed)


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
        return self._validated_fields(data)

    # DRF's Serializer.to_internal_value and run_validators, with what they look up again for
    # every item done once per serializer: the writable fields (a generator over the
    # BindingDict), each field's `validate_<name>` method, and the read-only defaults the
    # serializer-level validators see. A batch's items share one child serializer, and that
    # lookup was ~30 % of validating a 100-item batch (py-spy: DRF's serializer machinery
    # was a third of the batch's CPU). Same order, same errors, same exceptions caught.

    def _write_plan(self):
        plan = self.__dict__.get("_write_plan_cache")
        if plan is None:
            plan = tuple(
                (field, field.field_name, getattr(self, "validate_" + field.field_name, None), field.source_attrs)
                for field in self._writable_fields
            )
            defaults = any(field.read_only and field.default is not serializers.empty for field in self.fields.values())
            plan = self.__dict__["_write_plan_cache"] = (plan, defaults)
        return plan

    def _validated_fields(self, data):
        ret, errors = {}, {}
        for field, name, validate_method, source_attrs in self._write_plan()[0]:
            primitive_value = field.get_value(data)
            try:
                validated_value = field.run_validation(primitive_value)
                if validate_method is not None:
                    validated_value = validate_method(validated_value)
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
            except DjangoValidationError as exc:
                errors[name] = get_error_detail(exc)
            except SkipField:
                pass
            else:
                if len(source_attrs) == 1:
                    ret[source_attrs[0]] = validated_value
                else:
                    self.set_value(ret, source_attrs, validated_value)
        if errors:
            raise serializers.ValidationError(errors)
        return ret

    def run_validators(self, value):
        if self._write_plan()[1] or not isinstance(value, dict):
            return super().run_validators(value)
        # No read-only field has a default: DRF's copy of `value` with them added is `value`.
        return serializers.Field.run_validators(self, value)


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
