"""Which roles may use each endpoint: the role half of "who may see what" (docs/domain.md).

A role that may never perform an action gets 403 whatever the target, decided here
before any lookup, any query-string check and any body parsing (DRF parses lazily; the
permission check runs in `initial()`, before the handler touches `request.data`), so
the refusal reveals nothing and costs nothing. Which record a permitted role may reach
(admin / primary / care team / self / break-the-glass, else 404) is the per-record
half, decided by the selectors (`patients.selectors.patient_access_for`, ...).

Each view declares its table, e.g. `permission_classes = [roles(GET=CARE, PATCH=STAFF)]`.
"""

from rest_framework.permissions import BasePermission

from clarity.errors import NotAllowed

from .models import Role

EVERYONE = frozenset(Role)
ADMINS = frozenset({Role.ADMIN})
CLINICIANS = frozenset({Role.CLINICIAN})
RESEARCHERS = frozenset({Role.RESEARCHER})
# Roles that hold patient records: admins (all), clinicians (their care teams).
STAFF = frozenset({Role.ADMIN, Role.CLINICIAN})
# STAFF and patients (their own record): the roles that may read a patient's data.
CARE = STAFF | {Role.PATIENT}
NOBODY = frozenset()


class RolePolicy(BasePermission):
    """Base of the classes `roles()` makes; `allowed` maps an HTTP method to the roles that may use it."""

    allowed: dict[str, frozenset] = {}

    def has_permission(self, request, view):
        user = request.user
        if user is None or not user.is_authenticated:
            return False  # DRF answers 401 (with WWW-Authenticate)
        permitted = self.allowed.get(request.method)
        if permitted is None:
            return True  # a method the view does not serve: 405 follows
        if not user.has_role(*permitted):
            raise NotAllowed(resource_type=view.audit_resource_type or "api", resource_id=view.kwargs.get("pk", ""))
        return True


def roles(**by_method: frozenset) -> type[RolePolicy]:
    """A RolePolicy for one view: `roles(GET=CARE, POST=STAFF)`; HEAD follows GET."""
    allowed = {method.upper(): frozenset(permitted) for method, permitted in by_method.items()}
    if "GET" in allowed:
        allowed.setdefault("HEAD", allowed["GET"])
    name = "RolePolicy_" + "_".join(f"{method}" for method in sorted(allowed))
    return type(name, (RolePolicy,), {"allowed": allowed})
