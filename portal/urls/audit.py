from django.urls import path

from portal import audit as views

app_name = "audit"
urlpatterns = [
    path("", views.auditor, name="auditor"),
    path("runs/<int:pk>/", views.run_status, name="run"),
    path("bundle/", views.bundle, name="bundle"),
    path("regulator/", views.regulator, name="regulator"),
    path("exchange-log/", views.exchange_log, name="exchange-log"),
    path("regulator/<str:name>.csv", views.regulator_csv, name="regulator-csv"),
]
