from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from generations.throttle import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm

# Both login pages refuse a name and address after repeated failures.
admin.site.login_form = ThrottledAdminAuthenticationForm

# Password reset by email is left out: the studio sends no mail; admins reset passwords.
urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
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
