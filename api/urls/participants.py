from django.urls import path

from api import participants as api

urlpatterns = [
    path("", api.ParticipantListView.as_view(), name="api-participants"),
    path("departments/", api.DepartmentView.as_view(), name="api-participant-departments"),
    path("<str:code>/", api.ParticipantDetailView.as_view(), name="api-participant"),
    path("<str:code>/start-review/", api.StartReviewView.as_view(),
         name="api-participant-start-review"),
    path("<str:code>/admit/", api.AdmitView.as_view(), name="api-participant-admit"),
    path("<str:code>/reject/", api.RejectView.as_view(), name="api-participant-reject"),
    path("<str:code>/suspend/", api.SuspendView.as_view(), name="api-participant-suspend"),
    path("<str:code>/reinstate/", api.ReinstateView.as_view(),
         name="api-participant-reinstate"),
    path("<str:code>/revoke/", api.RevokeView.as_view(), name="api-participant-revoke"),
    path("<str:code>/members/", api.MemberListView.as_view(), name="api-participant-members"),
    path("<str:code>/keys/", api.KeyListView.as_view(), name="api-participant-keys"),
    path("<str:code>/keys/issue/", api.IssueKeyView.as_view(), name="api-participant-key-issue"),
    path("<str:code>/keys/upload/", api.UploadKeyView.as_view(),
         name="api-participant-key-upload"),
]
