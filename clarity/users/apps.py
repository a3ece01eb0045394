from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "clarity.users"
    label = "users"
    verbose_name = "Users and API tokens"

    def ready(self):
        from . import signals  # noqa: F401 - connects the session login/logout audit receivers
