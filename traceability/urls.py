from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from . import verification
from .roles import role_not_required
from .views import DashboardView, healthz

urlpatterns = [
    path("", DashboardView.as_view(), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", role_not_required(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("recalls/", include("recalls.urls")),
    path("quality/", include("recalls.capa.urls")),
    # Public, no login: GS1 Digital Link paths (what a label's QR code opens) and the form.
    re_path(r"^01/", verification.digital_link, name="digital_link"),
    path("verify/", verification.verify_form, name="verify"),
    path("healthz", healthz, name="healthz"),
    path("", include("inventory.urls")),
]
