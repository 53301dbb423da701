"""API routes of personal information and erasure requests (under /api/v1/)."""

from django.urls import path

from api import erasure as api

urlpatterns = [
    path("personal-information/", api.PersonalInformationView.as_view(),
         name="api-personal-information"),
    path("erasure-requests/", api.ErasureListView.as_view(), name="api-erasure-requests"),
    path("erasure-requests/<int:pk>/", api.ErasureDetailView.as_view(),
         name="api-erasure-request"),
    path("erasure-requests/<int:pk>/approve/", api.ErasureApproveView.as_view(),
         name="api-erasure-request-approve"),
    path("erasure-requests/<int:pk>/refuse/", api.ErasureRefuseView.as_view(),
         name="api-erasure-request-refuse"),
    path("erasure-requests/<int:pk>/withdraw/", api.ErasureWithdrawView.as_view(),
         name="api-erasure-request-withdraw"),
    path("erasure-requests/<int:pk>/appeal/", api.ErasureAppealView.as_view(),
         name="api-erasure-request-appeal"),
    path("erasure-requests/<int:pk>/uphold/", api.ErasureUpholdView.as_view(),
         name="api-erasure-request-uphold"),
]
