from django.urls import path

from portal import privacy as views

app_name = "privacy"
urlpatterns = [
    path("", views.overview, name="home"),
    path("erasures/new/", views.erasure_new, name="erasure-new"),
    path("erasures/<int:pk>/", views.erasure_detail, name="erasure"),
    path("erasures/<int:pk>/act/", views.erasure_act, name="erasure-act"),
]
