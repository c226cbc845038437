from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from .roles import role_not_required
from .views import DashboardView

urlpatterns = [
    path("", DashboardView.as_view(), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", role_not_required(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("recalls/", include("recalls.urls")),
    path("", include("inventory.urls")),
]
