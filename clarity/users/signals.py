"""Django session logins and logouts (the admin, a browser client) audited like the API's."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from clarity.audit.services import AuditContext

from . import services


@receiver(user_logged_in, dispatch_uid="clarity.users.audit_session_login")
def audit_session_login(sender, request, user, **kwargs):
    services.session_start_audit(user=user, ctx=AuditContext.from_request(request))


@receiver(user_logged_out, dispatch_uid="clarity.users.audit_session_logout")
def audit_session_logout(sender, request, user, **kwargs):
    if user is not None:  # logging out a request that was not logged in changes nothing
        services.session_end_audit(user=user, ctx=AuditContext.from_request(request))
