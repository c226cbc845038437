"""The three roles, and the rule that every page needs a signed-in user who holds one."""

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

QUALITY_MANAGERS = "Quality managers"
QUALITY_STAFF = "Quality staff"
ADMINISTRATORS = "Administrators"
ROLES = (QUALITY_MANAGERS, QUALITY_STAFF, ADMINISTRATORS)

NO_ROLE_MESSAGE = _(
    "Your account has no role yet, so it cannot see any records. "
    "Ask an administrator to add you to Quality managers, Quality staff or Administrators."
)


def user_roles(user) -> frozenset[str]:
    """The roles a user holds, looked up once per request; a superuser holds them all."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_roles_cache", None)
    if cached is None:
        if user.is_superuser:
            cached = frozenset(ROLES)
        else:
            cached = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._roles_cache = cached
    return cached


def role_not_required(view_func):
    """Mark a view that a signed-in user without a role may still open (e.g. sign out)."""
    view_func.role_required = False
    return view_func


class RoleRequiredMiddleware:
    """Answer 403 with an explanation to a signed-in user who holds no role.

    Runs after Django's LoginRequiredMiddleware, which already sends anonymous users to sign in;
    views marked login_not_required (sign in, public pages) pass untouched.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        if not getattr(view_func, "role_required", True):
            return None
        if not request.user.is_authenticated or user_roles(request.user):
            return None
        return render(request, "no_role.html", {"message": NO_ROLE_MESSAGE}, status=403)


def roles_context(request):
    user = getattr(request, "user", None)
    roles = user_roles(user) if user is not None else frozenset()
    shown = sorted(roles)
    if user is not None and user.is_superuser:
        # A superuser holds every role; show the ones given to them, not all three.
        given = user.groups.filter(name__in=ROLES).values_list("name", flat=True)
        shown = sorted(given) or [_("Superuser")]
    return {
        "user_roles": sorted(roles),
        "role_names": shown,
        "is_quality_manager": QUALITY_MANAGERS in roles,
    }
