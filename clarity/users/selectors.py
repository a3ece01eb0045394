from .models import User


def users_visible_to(user):
    """Admins see everyone; everybody else sees only themself."""
    if user.is_admin:
        return User.objects.all()
    return User.objects.filter(pk=user.pk)
