from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "clarity.users"
    label = "users"
    verbose_name = "Users and API tokens"
