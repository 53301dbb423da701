from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model, user_logged_in
        from django.db.models.signals import pre_save

        from accounts import passwords, sessions, tokens

        pre_save.connect(passwords.guard, sender=get_user_model(),
                         dispatch_uid="accounts.passwords.guard")
        tokens.connect()
        user_logged_in.connect(sessions.signed_in, dispatch_uid="accounts.sessions.signed_in")
