"""The visitor's URLs, /l/<link id>…: no account, no session."""

from django.urls import path

from vault.links.views import visit

app_name = "link_visit"

urlpatterns = [
    path("<uuid:link_id>", visit.visit, name="visit"),
    path("<uuid:link_id>/manifest", visit.manifest, name="manifest"),
    path("<uuid:link_id>/unlock", visit.unlock, name="unlock"),
    path("<uuid:link_id>/blob/<uuid:photo_id>/<str:variant>", visit.blob, name="blob"),
]
urlpatterns.append(path("<path:anything>", visit.gone, name="gone"))  # mangled ids too
