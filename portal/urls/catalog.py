from django.urls import path

from portal import catalogue as views

app_name = "catalog"
urlpatterns = [
    path("", views.resource_list, name="list"),
    path("resources/new/", views.resource_new, name="new"),
    path("resources/<str:code>/", views.resource_detail, name="detail"),
    path("resources/<str:code>/edit/", views.resource_edit, name="edit"),
    path("resources/<str:code>/act/", views.resource_act, name="act"),
    path("resources/<str:code>/quality/", views.resource_quality, name="quality"),
    path("resources/<str:code>/versions/<int:number>/", views.resource_version,
         name="version"),
    path("market/", views.product_list, name="products"),
    path("market/new/", views.product_new, name="product-new"),
    path("market/<str:code>/", views.product_detail, name="product"),
    path("market/<str:code>/act/", views.product_act, name="product-act"),
]
