"""Optimistic concurrency: a write names the versions of the record it was based on.

The API reads them from If-Match (`clarity.api.concurrency.parse_if_match`) and gives ETags
from `version`; services check them here, under the record's row lock.
"""

from django.utils import timezone

from clarity.errors import StaleVersion


class IfMatch:
    """The versions a write was based on: `*` (any), or a set of strong versions."""

    def __init__(self, any_version: bool, versions: frozenset[int]):
        self.any_version = any_version
        self.versions = versions

    def matches(self, version: int) -> bool:
        return self.any_version or version in self.versions


def check_if_match(if_match: IfMatch | None, current_version: int) -> None:
    """Raise StaleVersion unless the write was based on `current_version` (or named none)."""
    if if_match is not None and not if_match.matches(current_version):
        raise StaleVersion()


def save_new_version(record, fields: list[str] | None = None) -> None:
    """Save `record` as its next version: `version` + 1 and `updated_at` now, with `fields`
    (None: every field) in one UPDATE. The one place a versioned record's version moves."""
    record.version += 1
    record.updated_at = timezone.now()
    record.save(update_fields=None if fields is None else [*fields, "version", "updated_at"])
