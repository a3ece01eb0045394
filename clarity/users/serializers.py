from rest_framework import serializers

from clarity.api.fields import StrictFieldsMixin
from clarity.formats import utc

from .models import ApiToken, Role, User


class TokenRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "first_name", "last_name"]
        read_only_fields = fields


def user_representation(user: User) -> dict:
    """A user of docs/api.md (me, user list, user create); UserSerializer documents it."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def token_representation(raw: str, token: ApiToken) -> dict:
    """A newly issued token: the raw value, shown once, and its expiry; TokenSerializer documents it."""
    return {"token": raw, "expires_at": utc(token.expires_at)}


class UserCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)
    role = serializers.ChoiceField(choices=Role.choices)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
