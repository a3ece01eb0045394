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
