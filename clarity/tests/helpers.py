"""Helpers shared by the apps' model tests."""

import pytest
from django.core.exceptions import ValidationError


def validation_messages(instance) -> dict:
    """What full_clean() refuses `instance` with, by field (it must refuse it)."""
    with pytest.raises(ValidationError) as excinfo:
        instance.full_clean()
    return excinfo.value.message_dict
