"""The REST API's routes (under /api/v1/)."""

from django.urls import include, path

from api import auth, ledger, usage
from api.urls.audit import regulator_urlpatterns

urlpatterns = [
    path("auth/token/", auth.TokenView.as_view(), name="api-token"),
    path("auth/tokens/", auth.TokenListView.as_view(), name="api-tokens"),
    path("auth/tokens/<str:id>/", auth.TokenDetailView.as_view(), name="api-token-detail"),
    path("auth/logout/", auth.LogoutView.as_view(), name="api-logout"),
    path("auth/logout-all/", auth.LogoutAllView.as_view(), name="api-logout-all"),
    path("ledger/entries/<int:seq>/payload/", ledger.PayloadView.as_view(),
         name="api-ledger-payload"),
    path("ledger/pending/<int:pending_id>/", usage.PendingView.as_view(),
         name="api-ledger-pending"),
    path("usage-records/", usage.UsageRecordsView.as_view(), name="api-usage-records"),
    path("ledger/", include("ledger.api_urls")),
    path("participants/", include("api.urls.participants")),
    path("catalog/", include("api.urls.catalogue")),
    path("", include("api.urls.workflows")),
    path("", include("api.urls.erasure")),
    path("audit/", include("api.urls.audit")),
    path("regulator/", include((regulator_urlpatterns, "regulator"), namespace=None)),
]
