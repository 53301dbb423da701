from django.urls import path

from portal import explorer as views

app_name = "ledger"
urlpatterns = [
    path("", views.explorer, name="explorer"),
    path("entries/<int:seq>/", views.entry, name="entry"),
    path("entries/<int:seq>/verify/", views.verify, name="verify"),
    path("checkpoints/", views.checkpoints, name="checkpoints"),
    path("consistency/", views.consistency, name="consistency"),
]
