"""API authentication: opaque bearer tokens (stored hashed), or a session with CSRF."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from clarity.users.models import ApiToken, hash_token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`. One query: the token joined to its user."""

    keyword = "bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2 or len(parts[1]) > 256:
            raise exceptions.AuthenticationFailed()
        token = (
            ApiToken.objects.live(timezone.now())
            .select_related("user")
            .filter(key_hash=hash_token(parts[1]), user__is_active=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed()
        request._request._clarity_user_id = token.user_id
        return token.user, token

    def authenticate_header(self, request):
        return "Bearer"


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """Django session login for a same-origin web client; unsafe methods need the CSRF token."""
