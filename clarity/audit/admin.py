import uuid

from django.contrib import admin
from django.db.models import Q

from clarity.admin_mixins import ReadOnlyAdminMixin, ReviewAdminMixin
from clarity.users.models import Role

from .models import Action, AuditEvent


class OwnListEventsFilter(admin.SimpleListFilter):
    """
    Each changelist page a reviewer opens writes one `list` event per row: left in, they
    bury what others did. Hidden by default (the reviewer's own `list` events only);
    "shown" brings them back.
    """

    title = "your own list events"
    parameter_name = "own_lists"

    def lookups(self, request, model_admin):
        return (("shown", "Shown"),)

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Hidden",
        }
        yield {
            "selected": self.value() == "shown",
            "query_string": changelist.get_query_string({self.parameter_name: "shown"}),
            "display": "Shown",
        }

    def queryset(self, request, queryset):
        if self.value() == "shown":
            return queryset
        return queryset.exclude(actor=request.user, action=Action.LIST)


class ValueFilter(admin.SimpleListFilter):
    """
    One column's values as choices, without Django's default `SELECT DISTINCT column` over
    the whole audit table on every page (a full scan at 10^6 events). Any value in the
    query string filters exactly; the choices are `fixed_lookups`, or else the values seen
    in the newest `RECENT` events (one index range read), plus the one selected.
    """

    field = ""
    fixed_lookups = ()
    RECENT = 5000

    def lookups(self, request, model_admin):
        if self.fixed_lookups:
            values = [value for value, _ in self.fixed_lookups]
            labels = dict(self.fixed_lookups)
        else:
            recent = model_admin.get_queryset(request).order_by("-occurred_at", "-id")[: self.RECENT]
            values = sorted(set(recent.values_list(self.field, flat=True)))
            labels = {}
        if self.value() and self.value() not in values:
            values.append(self.value())
        return [(value, labels.get(value, value or "(none)")) for value in values]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{self.field: self.value()})


class ResourceTypeFilter(ValueFilter):
    title = "resource type"
    parameter_name = field = "resource_type"


class ActorRoleFilter(ValueFilter):
    title = "actor role"
    parameter_name = field = "actor_role"
    fixed_lookups = tuple(Role.choices)


@admin.register(AuditEvent)
class AuditEventAdmin(ReviewAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "actor_username",
        "actor_role",
        "action",
        "resource_type",
        "resource_id",
        "patient_id",
        "outcome",
        "break_glass",
    )
    list_filter = (
        OwnListEventsFilter,
        "action",
        "outcome",
        "break_glass",
        ResourceTypeFilter,
        ActorRoleFilter,
        "occurred_at",
    )
    # Exact matches only (indexed): an actor's username, or a patient / resource / request id.
    search_fields = ("=actor_username", "=resource_id", "=patient_id", "=request_id")
    search_help_text = "An actor's username, or a patient, resource or request id (exact)."
    # No date_hierarchy: Django's drill-down lists the years/months/days that have events
    # with a DISTINCT over the whole (filtered) table on every page, a full scan at 10^6
    # events. The `occurred_at` filter above (today, past 7 days, this month, this year)
    # narrows by date at no cost, and the list is already newest first.
    ordering = ("-occurred_at", "-id")

    def lookup_allowed(self, lookup, value, request=None):
        # ?patient_id=<uuid>: every event about one patient (the patient page links here).
        return lookup == "patient_id" or super().lookup_allowed(lookup, value, request)

    def get_search_results(self, request, queryset, search_term):
        # A term that is not a UUID cannot match patient_id: searching it there would be a
        # database error on PostgreSQL (invalid input syntax for type uuid).
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            uuid.UUID(term)
        except ValueError:
            return queryset.filter(Q(actor_username=term) | Q(resource_id=term) | Q(request_id=term)), False
        return super().get_search_results(request, queryset, term)
