"""URL routes: the portal, the admin, the REST API (/api/v1/) and its OpenAPI schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from audit.api_urls import regulator_urlpatterns
from config import views

api_v1 = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("ledger/", include("ledger.api_urls")),
    path("participants/", include("operators.api_urls")),
    path("catalog/", include("catalog.api_urls")),
    path("", include("contracts.api_urls")),
    path("audit/", include("audit.api_urls")),
    path("regulator/", include((regulator_urlpatterns, "regulator"), namespace=None)),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("inbox/", views.inbox, name="inbox"),
    path("catalogue/", include("catalog.urls", namespace="catalog")),
    path("workflows/", include("contracts.urls", namespace="contracts")),
    path("ledger/", include("ledger.urls", namespace="ledger")),
    path("audit/", include("audit.urls", namespace="audit")),
    path("participants/", include("operators.urls", namespace="operators")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
