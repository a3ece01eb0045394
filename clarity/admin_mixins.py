"""Shared Django admin behaviour for Clarity's models (staff review, see README "Staff review")."""

import json

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connections, models, transaction
from django.http import HttpResponseRedirect
from django.utils.functional import cached_property

from clarity.admin_site import label
from clarity.errors import ApplicationError


class BoundedCountPaginator(Paginator):
    """
    A changelist paginator that never counts a whole large table on every page.

    Rows are counted exactly up to `exact_up_to` (`SELECT COUNT(*) FROM (... LIMIT n)`, a
    bounded read); past that, the count is the planner's estimate for the same filtered
    query (`EXPLAIN`, no rows read) on PostgreSQL. Django counts the filtered queryset on
    every page otherwise — and the audit list is always filtered (the reviewer's own
    `list` events are hidden by default), so `show_full_result_count = False` alone still
    read all 10^6 rows per page. An estimated count makes the last page link approximate:
    a page past the real end is shown empty instead of an error.
    """

    exact_up_to = 10_000
    estimated = False

    @cached_property
    def count(self):
        queryset = self.object_list
        if not isinstance(queryset, models.QuerySet):
            return super().count
        exact = queryset.order_by()[: self.exact_up_to + 1].count()
        if exact <= self.exact_up_to:
            return exact
        estimate = self._planner_estimate(queryset)
        if estimate is None:  # SQLite (development): no estimate, count it.
            return queryset.count()
        self.estimated = True
        return max(estimate, exact)

    @staticmethod
    def _planner_estimate(queryset):
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        sql, params = queryset.order_by().query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])

    def validate_number(self, number):
        if not (self.count and self.estimated):
            return super().validate_number(number)
        try:
            value = int(number)
        except (TypeError, ValueError):
            return super().validate_number(number)  # PageNotAnInteger
        # An estimated count: any positive page is valid (past the real end, an empty page).
        return value if value >= 1 else super().validate_number(number)


class ReadOnlyAdminMixin:
    """
    For append-only and security records (interaction logs, twin revisions, audit events,
    login failures, tokens): staff may look, nobody — superusers included — may add,
    change or delete through the admin.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReviewAdminMixin:
    """
    Labels records for people (clarity.admin_site.label) in titles, breadcrumbs and
    foreign-key pickers; single-line inputs for short text; lists that never count the
    whole table (`show_full_result_count`, BoundedCountPaginator).
    """

    change_form_template = "clarity/admin/change_form.html"
    show_full_result_count = False
    paginator = BoundedCountPaginator
    # 50 rows, not Django's 100: rendering the rows is most of a list page's time at bench
    # scale (8 columns x 100 rows), and an audited list writes one event per row shown.
    list_per_page = 50
    formfield_overrides = {models.TextField: {"widget": forms.TextInput(attrs={"size": 60})}}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "label_from_instance"):
            field.label_from_instance = label
        return field

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A service's refusal (not allowed, out of scope, conflict) rolls the whole save back
        # (the admin's transaction) and is shown as the API would word it, not as a 500.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context = {**(extra_context or {}), "record_label": label(obj), "subtitle": label(obj)}
        return super().change_view(request, object_id, form_url, extra_context)


class AuditedAdminMixin(ReviewAdminMixin):
    """
    Staff review of PHI in the Django admin is audited like API access (docs/api.md, Audit):
    a changelist writes one `list` event per record shown, a change page a `read` event.
    Writes go through the domain services (each admin's save_model), which audit them
    exactly as the API does.
    """

    audit_resource_type = ""

    def audit_patient_id(self, obj):
        return getattr(obj, "patient_id", None)

    def audit_context(self, request):
        from clarity.audit.services import AuditContext

        return AuditContext.from_request(request)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        # A redirect (Django's `?e=1` for an unknown lookup or a page past the end) has no
        # context and shows nothing: nothing to audit.
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            from clarity.audit.models import Action
            from clarity.audit.services import audit_record_many

            with transaction.atomic():
                audit_record_many(
                    self.audit_context(request),
                    action=Action.LIST,
                    resource_type=self.audit_resource_type,
                    items=[(obj.pk, self.audit_patient_id(obj)) for obj in changelist.result_list],
                )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            obj = (getattr(response, "context_data", None) or {}).get("original")
            if obj is not None:
                from clarity.audit.models import Action
                from clarity.audit.services import audit_record

                with transaction.atomic():
                    audit_record(
                        self.audit_context(request),
                        action=Action.READ,
                        resource_type=self.audit_resource_type,
                        resource_id=obj.pk,
                        patient_id=self.audit_patient_id(obj),
                    )
        return response
