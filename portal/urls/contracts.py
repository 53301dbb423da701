from django.urls import path

from portal import workflows as views

app_name = "contracts"
urlpatterns = [
    path("requests/", views.request_list, name="requests"),
    path("requests/new/", views.request_new, name="request-new"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/act/", views.request_act, name="request-act"),
    path("agreements/", views.agreement_list, name="agreements"),
    path("agreements/new/", views.agreement_new, name="agreement-new"),
    path("agreements/<str:code>/", views.agreement_detail, name="agreement"),
    path("agreements/<str:code>/act/", views.agreement_act, name="agreement-act"),
    path("grants/", views.grant_list, name="grants"),
    path("grants/<int:pk>/", views.grant_detail, name="grant"),
    path("grants/<int:pk>/act/", views.grant_act, name="grant-act"),
    path("objections/", views.objection_list, name="objections"),
    path("objections/new/", views.objection_new, name="objection-new"),
    path("objections/<int:pk>/", views.objection_detail, name="objection"),
    path("objections/<int:pk>/act/", views.objection_act, name="objection-act"),
    path("orders/", views.order_list, name="orders"),
    path("orders/new/", views.order_new, name="order-new"),
    path("orders/<str:code>/", views.order_detail, name="order"),
    path("orders/<str:code>/act/", views.order_act, name="order-act"),
]
