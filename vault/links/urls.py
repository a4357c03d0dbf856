from django.urls import path

from vault.links.views import owner

app_name = "links"

urlpatterns = [
    path("", owner.link_list, name="list"),
    path("new", owner.link_new, name="new"),
    path("<uuid:link_id>/revoke", owner.link_revoke, name="revoke"),
]
