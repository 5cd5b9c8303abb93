"""Accounts: sign up, log in, log out and change password, with Django's auth views.

Logging in (or signing up) moves the anonymous session's chats to the account. Login and
signup posts are rate-limited per address (RATE_LIMITS["auth"]); repeated failed logins
lock the username and address out (django-axes, LOGIN_FAILURE_LIMIT and
LOGIN_LOCKOUT_MINUTES).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from chat.events import auth_group, publish_on_commit, session_check_request
from chat.services import chats_claim
from chat.visitors import session_made_here
from stormchat.limits import Decision, attempt, client_ip, limit_for


def auth_attempt(request: HttpRequest) -> Decision:
    """Count a login or signup post from this address."""
    return attempt(limit_for("auth"), client_ip(request))


def too_many_attempts(
    request: HttpRequest, template: str, form: Any, decision: Decision
) -> HttpResponse:
    """The form again, with a 429 and when to retry."""
    error = f"Too many attempts from your address. Try again in {decision.retry_after} s."
    response = render(request, template, {"form": form, "rate_error": error}, status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response


class LoginView(auth_views.LoginView):
    """Django's login, rate-limited, bringing the visitor's anonymous chats along."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Refuse the post if this address has tried too often; otherwise log in."""
        decision = auth_attempt(request)
        if not decision.allowed:
            form = AuthenticationForm(request)
            return too_many_attempts(request, self.template_name, form, decision)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        """Log in (which renews the session key), then claim the old session's chats, if
        this browser made that session."""
        anonymous_key = (
            self.request.session.session_key if session_made_here(self.request) else None
        )
        response = super().form_valid(form)
        chats_claim(session_key=anonymous_key, user_id=form.get_user().pk)
        return response


def sessions_changed(user_id: int) -> None:
    """Tell the user's open sockets to check their session: those whose session ended
    (this logout) or whose auth hash is stale (a password change elsewhere) close."""
    publish_on_commit(auth_group(user_id), session_check_request())


def admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponseBase:
    """The admin's login, with the same per-address limit as the site's own."""
    if request.method == "POST":
        decision = auth_attempt(request)
        if not decision.allowed:
            response = HttpResponse(
                f"Too many attempts from your address. Try again in {decision.retry_after} s.",
                status=429,
                content_type="text/plain",
            )
            response["Retry-After"] = str(decision.retry_after)
            return response
    return admin.site.login(request, extra_context)


class LogoutView(auth_views.LogoutView):
    """Django's logout; the sockets opened with the ended session close (4401)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Log out (the session is gone after this), then tell the user's sockets."""
        user_id = request.user.pk
        response = super().post(request, *args, **kwargs)
        if user_id is not None:
            sessions_changed(user_id)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change; sockets of the user's other sessions close (4401)."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        """Change the password (this session stays valid), then tell the sockets."""
        response = super().form_valid(form)
        sessions_changed(self.request.user.pk)
        return response


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account, log it in, and keep the chats made so far."""
    template = "registration/signup.html"
    if request.user.is_authenticated:
        return redirect("home")
    if request.method != "POST":
        return render(request, template, {"form": UserCreationForm()})
    decision = auth_attempt(request)
    if not decision.allowed:
        return too_many_attempts(request, template, UserCreationForm(), decision)
    form = UserCreationForm(request.POST)
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    user = form.save()
    anonymous_key = request.session.session_key if session_made_here(request) else None
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    chats_claim(session_key=anonymous_key, user_id=user.pk)
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect("home")


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("signup/", signup, name="signup"),
    path(
        "password/",
        PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
