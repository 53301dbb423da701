"""API routes of audits (under /api/v1/audit/) and the regulator (/api/v1/regulator/)."""

from django.urls import path

from api import audit as api
from api import regulator as api_regulator

urlpatterns = [
    path("verifications/", api.VerificationListView.as_view(), name="api-verifications"),
    path("verifications/<int:pk>/", api.VerificationDetailView.as_view(),
         name="api-verification"),
    path("bundle/", api.BundleView.as_view(), name="api-audit-bundle"),
]

regulator_urlpatterns = [
    path("summary/", api_regulator.SummaryView.as_view(), name="api-regulator-summary"),
    path("overdue/", api_regulator.OverdueView.as_view(), name="api-regulator-overdue"),
    path("anomalies/", api_regulator.AnomaliesView.as_view(), name="api-regulator-anomalies"),
    path("erasures/", api_regulator.ErasuresView.as_view(), name="api-regulator-erasures"),
    path("exchange-log/", api_regulator.ExchangeLogView.as_view(),
         name="api-regulator-exchange-log"),
]
