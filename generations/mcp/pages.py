"""The tokens page: each person makes, names and revokes their own; staff revoke anyone's."""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from generations.mcp.tokens import issue_token
from generations.models import AccessToken


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        label="Name",
        help_text="Where it is used, so you know which one to revoke (e.g. “Claude on my laptop”).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "Claude Desktop"}),
    )


# A token just made, kept in the session only until the page after the form's redirect shows
# it: a reload of that page cannot post the form again (and make another token).
NEW_TOKEN = "mcp-new-token"  # noqa: S105 - a session key's name


@never_cache  # the page after a token is made shows it: no cache, the browser's neither, keeps it
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The person's tokens and a form for a new one, shown once, on the page the form's answer
    redirects to."""
    user: Any = request.user  # LoginRequiredMiddleware: a person
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _, request.session[NEW_TOKEN] = issue_token(user, form.cleaned_data["name"])
        return redirect("mcp-tokens")
    context = {
        "form": form,
        "new_token": request.session.pop(NEW_TOKEN, ""),
        "mine": AccessToken.objects.filter(user=user).select_related("revoked_by"),
        "everyone": (
            AccessToken.objects.active().exclude(user=user).select_related("user")
            if user.is_staff
            else None
        ),
        "endpoint": request.build_absolute_uri(reverse("mcp")),
    }
    return render(request, "generations/tokens.html", context, status=400 if form.errors else 200)


@require_POST
def revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    """Revoke a token: its owner, or staff (anyone else is told it does not exist)."""
    found = AccessToken.objects.select_related("user").filter(key_id=key_id).first()
    if found is None or not (request.user.is_staff or found.user_id == request.user.pk):
        raise Http404("No such token.")
    if found.revoke(request.user):
        messages.success(request, f"Revoked “{found.name}”: it no longer works.")
    return redirect("mcp-tokens")
