"""URL map of the vault."""

from django.urls import include, path
from django.views.generic import TemplateView

from vault.health.views import healthz

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("vault.accounts.urls")),
    path("photos/", include("vault.photos.urls")),
    path("people/", include("vault.people.urls")),
    path("albums/", include("vault.albums.urls")),
]
