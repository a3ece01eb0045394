"""StrictFieldsMixin validates a body's fields through a plan built once per serializer
(clarity/api/fields.py). It must give what DRF's own Serializer.to_internal_value gives:
the same validated values, or the same errors, for valid, invalid, partial and defaulted
bodies, and on a serializer reused for many items (a batch's child)."""

import pytest
from rest_framework import serializers

from interactions.serializers import InteractionCreateSerializer
from patients.serializers import BreakGlassRequestSerializer, CareTeamAddSerializer, PatientUpdateSerializer
from twins.serializers import TwinCreateSerializer, TwinUpdateSerializer

CASES = [
    (
        InteractionCreateSerializer,
        [
            {"kind": "note", "payload": {"text": "x"}, "occurred_at": "2026-01-31T09:00:00Z"},
            {
                "kind": "assessment",
                "payload": {"instrument": "PHQ-9", "score": 4},
                "occurred_at": "2026-01-31T09:00:00+02:00",
            },
            {"kind": "message", "payload": {"text": "hi"}, "occurred_at": "2026-01-31T09:00:00Z", "twin": None},
            {"kind": "nope", "payload": [], "occurred_at": "2026-01-31T09:00:00"},
            {"kind": "note", "payload": {}, "occurred_at": "1800-01-01T00:00:00Z"},
            {"kind": "note", "payload": {}, "occurred_at": "2999-01-01T00:00:00Z", "twin": "not-a-uuid"},
            {"payload": {}},
            {},
        ],
    ),
    (
        PatientUpdateSerializer,  # partial: absent fields are skipped
        [
            {"given_name": "Ada"},
            {"email": None, "phone": "+15551234567"},
            {"phone": "555", "date_of_birth": "1800-01-01", "sex": "x"},
            {},
        ],
    ),
    (CareTeamAddSerializer, [{"clinician": "00000000-0000-0000-0000-000000000001"}, {"role": "boss"}]),
    (BreakGlassRequestSerializer, [{"reason": "unconscious patient in the emergency department"}, {"reason": "x"}]),
    (TwinCreateSerializer, [{"name": "t", "twin_type": "psychiatric"}, {"name": "", "configuration": []}]),
    (TwinUpdateSerializer, [{"name": "renamed"}, {"status": "gone"}, {}]),
]


def _outcome(validate, data):
    try:
        return "valid", validate(data)
    except serializers.ValidationError as exc:
        return "invalid", exc.detail


@pytest.mark.django_db
@pytest.mark.parametrize(("serializer_class", "bodies"), CASES, ids=[case[0].__name__ for case in CASES])
def test_the_plan_validates_as_drfs_own_loop_does(serializer_class, bodies):
    # One instance for every body, as a batch's child serializer is reused for each item
    ours = serializer_class(data={})
    drfs = serializer_class(data={})
    for body in bodies:
        assert _outcome(ours._validated_fields, body) == _outcome(
            lambda data: serializers.Serializer.to_internal_value(drfs, data), body
        ), body


def test_the_plan_is_built_once_per_serializer():
    serializer = InteractionCreateSerializer(data={})
    assert serializer._write_plan() is serializer._write_plan()
    fields, has_defaults = serializer._write_plan()
    assert [name for _, name, _, _ in fields] == ["kind", "payload", "occurred_at", "twin"]
    assert not has_defaults
