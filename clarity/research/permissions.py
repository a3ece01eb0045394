"""Who may use an endpoint, decided from the role before any lookup (so a 403 reveals nothing)."""

from rest_framework.permissions import BasePermission


class RoleIn(BasePermission):
    """`permission_classes = [RoleIn(Role.ADMIN, Role.RESEARCHER)]`; per method with `RoleIn(..., methods=...)`."""

    def __init__(self, *roles, methods=None):
        self.roles = frozenset(roles)
        self.methods = frozenset(methods) if methods else None

    def __call__(self):
        # DRF instantiates permission_classes entries; an instance stands for itself.
        return self

    def has_permission(self, request, view):
        if self.methods is not None and request.method not in self.methods:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.role in self.roles)
