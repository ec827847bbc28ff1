from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from generations.throttle import ThrottledPasswordChangeForm


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, with the old password checked as a login is: throttled (throttle.py)."""

    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}


# Password reset by email is left out: the studio sends no mail; admins reset passwords.
# Both login pages and the password change are throttled by django-axes (throttle.py).
urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("", include("generations.urls")),
]

if settings.LUMA_SIMULATOR:
    urlpatterns.append(path("sim/", include("generations.simulators.urls")))
