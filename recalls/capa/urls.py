from django.urls import path

from . import views

app_name = "quality"

urlpatterns = [
    path("nonconformances/", views.NonConformanceListView.as_view(), name="nc_list"),
    path("nonconformances/new/", views.NonConformanceCreateView.as_view(), name="nc_new"),
    path(
        "nonconformances/<str:reference>/",
        views.NonConformanceDetailView.as_view(),
        name="nc_detail",
    ),
    path(
        "nonconformances/<str:reference>/report.<str:fmt>",
        views.NonConformancePrintView.as_view(),
        name="nc_print",
    ),
    path("actions/", views.CapaActionListView.as_view(), name="action_list"),
]
