"""The signed-in person's own account: changing the password. The old password is checked
like a sign-in (counted, and refused during a lockout: ``accounts.lockout``); the new one by
the password validators; the change revokes every API token (``accounts.tokens``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import forms, views
from django.core.exceptions import ValidationError

from accounts import lockout
from kernel.errors import TooManyAttempts


class PasswordChangeForm(forms.PasswordChangeForm):
    def __init__(self, user: Any, *args: Any, request: Any = None, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old = str(self.cleaned_data["old_password"])
        try:
            right = lockout.check_password(self.request, self.user, old)
        except TooManyAttempts as refusal:
            raise ValidationError(refusal.message, code="locked_out") from None
        if not right:
            raise ValidationError(self.error_messages["password_incorrect"],
                                  code="password_incorrect")
        return old


class PasswordChange(views.PasswordChangeView):
    form_class = PasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}
