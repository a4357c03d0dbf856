"""URL map of the vault."""

from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import TemplateView

from vault.health.views import healthz


def favicon(request):
    """Pages name their icon; a browser's own documents (a picture opened directly) ask for
    /favicon.ico, which would otherwise be a 404 in the console."""
    return redirect(static("img/vault.svg"), permanent=True)


urlpatterns = [
    path("favicon.ico", favicon),
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("vault.accounts.urls")),
    path("photos/", include("vault.photos.urls")),
    path("people/", include("vault.people.urls")),
    path("albums/", include("vault.albums.urls")),
    path("links/", include("vault.links.urls")),
    path("l/", include("vault.links.visit_urls")),
]
