import uuid

from django.contrib import admin
from django.db.models import Q

from clarity.admin_mixins import ReadOnlyAdminMixin, ReviewAdminMixin

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
        "resource_type",
        "actor_role",
        "occurred_at",
    )
    # Exact matches only (indexed): an actor's username, or a patient / resource / request id.
    search_fields = ("=actor_username", "=resource_id", "=patient_id", "=request_id")
    search_help_text = "An actor's username, or a patient, resource or request id (exact)."
    list_select_related = ("actor",)
    date_hierarchy = "occurred_at"
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
