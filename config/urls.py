"""URL routes: the portal, the admin, the REST API (/api/v1/) and its OpenAPI schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal import account

# Django's own error answers: JSON under /api/ (kernel.edge), elsewhere the portal's error
# pages (its layout, the reader's language, the reason and a way back).
handler400 = "kernel.edge.bad_request"
handler403 = "portal.errors.forbidden"
handler404 = "portal.errors.not_found"
handler500 = "portal.errors.server_error"

urlpatterns = [
    path("", include("portal.urls")),
    # The admin's own password change is the portal's: its old password counts as a sign-in.
    path("admin/password_change/", account.PasswordChange.as_view()),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/password_change/", account.PasswordChange.as_view(),
         name="password_change"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(
        url_name="api-schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
]

