from django.urls import path

from ledger import api

urlpatterns = [
    path("", api.StatusView.as_view(), name="api-ledger-status"),
    path("entries/", api.EntryList.as_view(), name="api-ledger-entries"),
    path("entries/<int:seq>/", api.EntryDetail.as_view(), name="api-ledger-entry"),
    path("entries/<int:seq>/raw/", api.EntryRaw.as_view(), name="api-ledger-entry-raw"),
    path("root/", api.RootView.as_view(), name="api-ledger-root"),
    path("proofs/inclusion/", api.InclusionProofView.as_view(), name="api-ledger-inclusion"),
    path("proofs/consistency/", api.ConsistencyProofView.as_view(),
         name="api-ledger-consistency"),
    path("checkpoints/", api.CheckpointList.as_view(), name="api-ledger-checkpoints"),
    path("checkpoints/latest/note/", api.CheckpointNote.as_view(), {"size": None},
         name="api-ledger-latest-checkpoint-note"),
    path("checkpoints/<int:size>/note/", api.CheckpointNote.as_view(),
         name="api-ledger-checkpoint-note"),
    path("keys/", api.KeyList.as_view(), name="api-ledger-keys"),
]
