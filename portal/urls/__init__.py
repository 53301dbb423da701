"""The portal's pages: home, inbox, and each part under its own namespace."""

from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from portal import home

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", home.healthz, name="healthz"),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),

    path("inbox/", home.inbox, name="inbox"),
    path("catalogue/", include("portal.urls.catalog", namespace="catalog")),
    path("workflows/", include("portal.urls.contracts", namespace="contracts")),
    path("ledger/", include("portal.urls.ledger", namespace="ledger")),
    path("audit/", include("portal.urls.audit", namespace="audit")),
    path("participants/", include("portal.urls.operators", namespace="operators")),
    path("privacy/", include("portal.urls.privacy", namespace="privacy")),
]
