from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import ApiToken, LoginFailure, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "email", "first_name", "last_name")
    ordering = ("username",)
    fieldsets = DjangoUserAdmin.fieldsets + (("Clarity", {"fields": ("role",)}),)
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "role", "password1", "password2")}),
    )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = ("id", "user", "key_hash", "created_at", "expires_at")
    fields = ("id", "user", "created_at", "expires_at", "revoked_at")

    def has_add_permission(self, request):
        # Tokens are issued by POST /api/v1/auth/token/ only, so the raw value is never stored.
        return False


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    list_display = ("id", "username", "ip", "occurred_at")
    list_filter = ("occurred_at",)
    search_fields = ("username", "ip")
    list_select_related = ()
    readonly_fields = ("username", "ip", "occurred_at")
