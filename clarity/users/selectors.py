from .models import Role, User, canonical_username


def users_visible_to(user):
    """Admins see everyone; everybody else sees only themself."""
    if user.is_admin:
        return User.objects.all()
    return User.objects.filter(pk=user.pk)


def active_admin_named(username: str) -> User | None:
    """The active admin-role user a management command names with --actor (the username in
    its one canonical form, as login compares it), or None."""
    return User.objects.filter(username=canonical_username(username), role=Role.ADMIN, is_active=True).first()
