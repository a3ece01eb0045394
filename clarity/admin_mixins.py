"""Shared Django admin behaviour for Clarity's models."""


class ReadOnlyAdminMixin:
    """
    For append-only records (interaction logs, twin revisions, audit events): staff may
    look, nobody — superusers included — may add, change or delete through the admin.
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


class AuditedAdminMixin:
    """
    Staff review of PHI in the Django admin is audited like API access (API.md, Audit):
    a changelist writes one `list` event per record shown, a change page a `read`
    event, and a save a `create`/`update` event, in the same transaction as the save.
    """

    audit_resource_type = ""

    def audit_patient_id(self, obj):
        return getattr(obj, "patient_id", None)

    def _ctx(self, request):
        from clarity.audit.services import AuditContext

        return AuditContext.from_request(request)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}) and response.context_data.get("cl")
        if changelist is not None:
            from django.db import transaction

            from clarity.audit.models import Action
            from clarity.audit.services import audit_record_many

            with transaction.atomic():
                audit_record_many(
                    self._ctx(request),
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
                from django.db import transaction

                from clarity.audit.models import Action
                from clarity.audit.services import audit_record

                with transaction.atomic():
                    audit_record(
                        self._ctx(request),
                        action=Action.READ,
                        resource_type=self.audit_resource_type,
                        resource_id=obj.pk,
                        patient_id=self.audit_patient_id(obj),
                    )
        return response

    def save_model(self, request, obj, form, change):
        from django.db import transaction

        from clarity.audit.models import Action
        from clarity.audit.services import audit_record

        with transaction.atomic():
            if change and hasattr(obj, "version"):
                obj.version += 1
            if change and hasattr(obj, "updated_at"):
                from django.utils import timezone

                obj.updated_at = timezone.now()
            super().save_model(request, obj, form, change)
            audit_record(
                self._ctx(request),
                action=Action.UPDATE if change else Action.CREATE,
                resource_type=self.audit_resource_type,
                resource_id=obj.pk,
                patient_id=self.audit_patient_id(obj),
            )
