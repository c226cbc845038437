from django.urls import path

from . import quality_views, views
from .models import Lot, SerialUnit

urlpatterns = [
    path("trace/", views.TraceView.as_view(), name="trace"),
    path("fsma204/", views.Fsma204View.as_view(), name="fsma204"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("epcis/import/", views.EpcisImportView.as_view(), name="epcis_import"),
    path("products/", views.ProductListView.as_view(), name="product_list"),
    path("lots/", views.LotListView.as_view(), name="lot_list"),
    path("serials/", views.SerialUnitListView.as_view(), name="serial_list"),
    path("events/", views.EventListView.as_view(), name="event_list"),
    path("parties/", views.PartyListView.as_view(), name="party_list"),
    path("jobs/<uuid:pk>/", views.JobDetailView.as_view(), name="job_detail"),
    path("products/<int:pk>/", views.ProductDetailView.as_view(), name="product_detail"),
    path("expiry/", views.ExpiryReportView.as_view(), name="expiry_report"),
    path("ship/", views.ShipmentCreateView.as_view(), name="shipment_new"),
    path("jobs/<uuid:pk>/download/", views.JobDownloadView.as_view(), name="job_download"),
    path("lots/<int:pk>/", views.LotDetailView.as_view(), name="lot_detail"),
    path(
        "lots/<int:pk>/status/",
        views.StatusChangeView.as_view(model=Lot),
        name="lot_status",
    ),
    path(
        "lots/<int:pk>/epcis/",
        views.TrackedItemEpcisView.as_view(model=Lot),
        name="lot_epcis",
    ),
    path(
        "lots/<int:pk>/label/",
        views.TrackedItemLabelView.as_view(model=Lot),
        name="lot_label",
    ),
    path("serials/new/", views.SerialRunCreateView.as_view(), name="serial_run_new"),
    path("serials/runs/", views.SerialRunListView.as_view(), name="serial_run_list"),
    path("serials/runs/<int:pk>/", views.SerialRunDetailView.as_view(), name="serial_run_detail"),
    path(
        "serials/runs/<int:pk>/labels.pdf",
        views.SerialRunLabelsView.as_view(),
        name="serial_run_labels",
    ),
    path("serials/<int:pk>/", views.SerialUnitDetailView.as_view(), name="serial_detail"),
    path(
        "serials/<int:pk>/status/",
        views.StatusChangeView.as_view(model=SerialUnit),
        name="serial_status",
    ),
    path(
        "serials/<int:pk>/epcis/",
        views.TrackedItemEpcisView.as_view(model=SerialUnit),
        name="serial_epcis",
    ),
    path(
        "serials/<int:pk>/label/",
        views.TrackedItemLabelView.as_view(model=SerialUnit),
        name="serial_label",
    ),
    path(
        "serials/<int:pk>/service/",
        views.ServiceRecordCreateView.as_view(),
        name="serial_service",
    ),
    path(
        "serials/<int:pk>/owner/",
        views.OwnerChangeView.as_view(),
        name="serial_owner_register",
    ),
    path(
        "serials/<int:pk>/owner/transfer/",
        views.OwnerChangeView.as_view(transfer=True),
        name="serial_owner_transfer",
    ),
    path(
        "serials/<int:pk>/owner/<int:ownership_pk>/withdraw-consent/",
        views.OwnerConsentWithdrawView.as_view(),
        name="serial_owner_consent_withdraw",
    ),
]

# --- Warranty claims ---
urlpatterns += [
    path("warranty/", views.ClaimListView.as_view(), name="claim_list"),
    path("warranty/new/", views.ClaimCreateView.as_view(), name="claim_new"),
    path("warranty/<int:pk>/", views.ClaimDetailView.as_view(), name="claim_detail"),
]

# --- Returns (RMA) ---
urlpatterns += [
    path("returns/", views.ReturnListView.as_view(), name="return_list"),
    path("returns/new/", views.ReturnCreateView.as_view(), name="return_new"),
    path("returns/<int:pk>/", views.ReturnDetailView.as_view(), name="return_detail"),
    path("returns/<int:pk>/decide/", views.ReturnDecideView.as_view(), name="return_decide"),
    path("returns/<int:pk>/repair/", views.ReturnRepairView.as_view(), name="return_repair"),
    path("returns/photos/<int:pk>/", views.ReturnPhotoView.as_view(), name="return_photo"),
]

# --- Public verification (staff side; the public pages are in traceability/urls.py) ---
urlpatterns += [
    path(
        "verification/flags/",
        views.CounterfeitFlagListView.as_view(),
        name="counterfeit_flag_list",
    ),
    path(
        "verification/flags/<int:pk>/",
        views.CounterfeitFlagView.as_view(),
        name="counterfeit_flag",
    ),
]

# --- Quality control: specifications and release ---
urlpatterns += [
    path(
        "quality/specifications/",
        quality_views.SpecificationListView.as_view(),
        name="specification_list",
    ),
    path(
        "quality/specifications/<int:pk>/",
        quality_views.SpecificationDetailView.as_view(),
        name="specification_detail",
    ),
    path("quality/results/", quality_views.TestResultListView.as_view(), name="test_result_list"),
    path(
        "quality/decisions/",
        quality_views.ReleaseDecisionListView.as_view(),
        name="release_decision_list",
    ),
    path("quality/deviations/", quality_views.DeviationListView.as_view(), name="deviation_list"),
    path(
        "quality/deviations/<str:reference>/",
        quality_views.DeviationDetailView.as_view(),
        name="deviation_detail",
    ),
    path(
        "quality/certificates/<int:pk>/",
        quality_views.CertificateFileView.as_view(),
        name="certificate_file",
    ),
    path("lots/<int:pk>/results/", quality_views.ResultEntryView.as_view(), name="lot_results_new"),
    path(
        "lots/<int:pk>/results/<int:result_pk>/correct/",
        quality_views.ResultCorrectView.as_view(),
        name="lot_result_correct",
    ),
    path("lots/<int:pk>/release/", quality_views.LotSignView.as_view(), name="lot_release_sign"),
    path(
        "lots/<int:pk>/reject/",
        quality_views.LotSignView.as_view(decision="reject"),
        name="lot_reject_sign",
    ),
    path(
        "lots/<int:pk>/deviation/",
        quality_views.TestDeviationRequestView.as_view(),
        name="lot_test_deviation",
    ),
    path(
        "lots/<int:pk>/quality-record.pdf",
        quality_views.LotQualityRecordView.as_view(),
        name="lot_quality_record",
    ),
]
# --- Quality control: process conditions ---
urlpatterns += [
    path("conditions/", views.MeasurementListView.as_view(), name="measurement_list"),
    path(
        "events/<int:pk>/readings/",
        views.MeasurementRecordView.as_view(),
        name="measurement_record",
    ),
]
urlpatterns += [
    path(
        "products/<int:pk>/limits/new/",
        views.ConditionLimitEditView.as_view(),
        name="condition_limit_new",
    ),
    path(
        "products/<int:pk>/limits/<int:limit_pk>/",
        views.ConditionLimitEditView.as_view(),
        name="condition_limit_edit",
    ),
]
