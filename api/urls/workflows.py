"""API routes of the workflows (under /api/v1/)."""

from django.urls import path

from api import workflows as api

urlpatterns = [
    path("sharing-requests/", api.SharingRequestListView.as_view(), name="api-sharing-requests"),
    path("sharing-requests/<int:pk>/", api.SharingRequestDetailView.as_view(),
         name="api-sharing-request"),
    path("sharing-requests/<int:pk>/approve/", api.SharingApproveView.as_view(),
         name="api-sharing-request-approve"),
    path("sharing-requests/<int:pk>/refuse/", api.SharingRefuseView.as_view(),
         name="api-sharing-request-refuse"),
    path("sharing-requests/<int:pk>/withdraw/", api.SharingWithdrawView.as_view(),
         name="api-sharing-request-withdraw"),
    path("agreements/", api.AgreementListView.as_view(), name="api-agreements"),
    path("agreements/<str:code>/", api.AgreementDetailView.as_view(), name="api-agreement"),
    path("agreements/<str:code>/sign/", api.AgreementSignView.as_view(),
         name="api-agreement-sign"),
    path("agreements/<str:code>/suspend/", api.AgreementSuspendView.as_view(),
         name="api-agreement-suspend"),
    path("agreements/<str:code>/resume/", api.AgreementResumeView.as_view(),
         name="api-agreement-resume"),
    path("agreements/<str:code>/terminate/", api.AgreementTerminateView.as_view(),
         name="api-agreement-terminate"),
    path("grants/", api.GrantListView.as_view(), name="api-grants"),
    path("grants/<int:pk>/", api.GrantDetailView.as_view(), name="api-grant"),
    path("grants/<int:pk>/revoke/", api.GrantRevokeView.as_view(), name="api-grant-revoke"),
    path("grants/<int:pk>/deliveries/", api.GrantDeliveryListView.as_view(),
         name="api-grant-deliveries"),
    path("deliveries/", api.DeliveryListView.as_view(), name="api-deliveries"),
    path("objections/", api.ObjectionListView.as_view(), name="api-objections"),
    path("objections/<int:pk>/", api.ObjectionDetailView.as_view(), name="api-objection"),
    *[path(f"objections/<int:pk>/{action}/", view.as_view(), name=f"api-objection-{action}")
      for action, view in [("accept", api.ObjectionAcceptView),
                           ("not-accept", api.ObjectionNotAcceptView),
                           ("start-verification", api.ObjectionVerifyView),
                           ("correct", api.ObjectionCorrectView),
                           ("uphold", api.ObjectionUpholdView),
                           ("dismiss", api.ObjectionDismissView),
                           ("appeal", api.ObjectionAppealView),
                           ("close", api.ObjectionCloseView)]],
    path("orders/", api.OrderListView.as_view(), name="api-orders"),
    path("orders/<str:code>/", api.OrderDetailView.as_view(), name="api-order"),
    *[path(f"orders/<str:code>/{action}/", view.as_view(), name=f"api-order-{action}")
      for action, view in [("sign", api.OrderSignView), ("notarise", api.OrderNotariseView),
                           ("deliver", api.OrderDeliverView), ("accept", api.OrderAcceptView),
                           ("dispute", api.OrderDisputeView), ("settle", api.OrderSettleView),
                           ("close", api.OrderCloseView), ("cancel", api.OrderCancelView)]],
]
