"""A URLconf for tests/test_error_pages.py: views that fail on purpose and nothing else, so the
error pages are seen to render without the vault's own URL names."""

from django.core.exceptions import PermissionDenied
from django.urls import path

SECRET_IN_THE_ERROR = "a secret value from a bug"  # what must never reach the page


def fail(request):
    raise RuntimeError(SECRET_IN_THE_ERROR)


def forbid(request):
    raise PermissionDenied(SECRET_IN_THE_ERROR)


urlpatterns = [path("fail/", fail), path("forbidden/", forbid)]
