from django.urls import path

from portal import participants as views

app_name = "operators"
urlpatterns = [
    path("", views.participant_list, name="list"),
    path("apply/", views.apply, name="apply"),
    path("<str:code>/", views.participant_detail, name="detail"),
    path("<str:code>/review/", views.participant_review, name="review"),
    path("<str:code>/keys/", views.participant_keys, name="keys"),
]
