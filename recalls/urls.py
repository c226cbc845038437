from django.urls import path

from . import views

app_name = "recalls"

urlpatterns = [
    path("", views.CampaignListView.as_view(), name="list"),
    path("new/", views.CampaignOpenView.as_view(), name="open"),
    path("<str:reference>/", views.CampaignDetailView.as_view(), name="campaign"),
    path("<str:reference>/start/", views.CampaignStartView.as_view(), name="start"),
    path("<str:reference>/rescope/", views.CampaignRescopeView.as_view(), name="rescope"),
    path("<str:reference>/resolve/", views.ResolveView.as_view(), name="resolve"),
    path("<str:reference>/lines/<int:pk>/", views.LineView.as_view(), name="line"),
    path(
        "<str:reference>/resolutions/<int:pk>/reverse/",
        views.ReverseView.as_view(),
        name="reverse",
    ),
    path("<str:reference>/notice/", views.NoticeTextView.as_view(), name="notice_text"),
    path("<str:reference>/notices/send/", views.NoticesSendView.as_view(), name="send"),
    path(
        "<str:reference>/consignees/<int:pk>/answer/",
        views.ResponseView.as_view(),
        name="response",
    ),
    path("<str:reference>/complete/", views.CompleteView.as_view(), name="complete"),
    path("<str:reference>/terminate/", views.TerminateView.as_view(), name="terminate"),
    path("<str:reference>/report.<str:fmt>", views.ReportView.as_view(), name="report_file"),
    path("<str:reference>/owners.csv", views.OwnersExportView.as_view(), name="owners"),
    path(
        "<str:reference>/documents/<str:document>.<str:fmt>",
        views.DocumentView.as_view(),
        name="document",
    ),
    path(
        "<str:reference>/status-reports/",
        views.StatusReportIssueView.as_view(),
        name="status_report_issue",
    ),
]
