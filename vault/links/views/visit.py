"""What a visitor without an account gets (docs/links.md). Every answer is the same "This link
no longer works" for an unknown, revoked or expired link and for a wrong token, so the path
alone tells nothing. Data answers need the access token the page derives from the fragment."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core import signing
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from vault.accounts import throttle
from vault.links import selectors, services
from vault.links.forms import UnlockForm
from vault.links.models import Link, LinkPhoto
from vault.photos import storage
from vault.photos.models import Blob
from vault.security_headers import csp_header

TOKEN_HEADER = "HTTP_X_LINK_TOKEN"  # noqa: S105 - a header name
PASS_HEADER = "HTTP_X_LINK_PASS"  # noqa: S105 - a header name
PASS_SALT = "vault.links.pass"  # noqa: S105 - a signing namespace
PASS_MAX_AGE = 12 * 60 * 60
VARIANTS = {"thumb", "preview", "original"}
# The visitor's page shows pictures it decrypted itself: blob: URLs, on this page only.
_PAGE_CSP = csp_header({**settings.SECURE_CSP, "img-src": ["'self'", "blob:"]})


# Wrong passwords on one link from all addresses together before that link locks for everyone
# (with the sign-in throttle's growing delays): many addresses guessing at once are still stopped.
LINK_CEILING = 50


@dataclass(frozen=True)
class _Guesser:
    """The counters of `throttle` for a link's password: one per (link, client address), with
    the sign-in throttle's free attempts and delays, so one address's wrong guesses lock only
    that address; and one per link with LINK_CEILING free attempts. A right password clears
    only the first (`throttle.record_success` clears the first counter)."""

    link: str
    ip: str

    def counters(self) -> list[tuple[str, int]]:
        return [
            (f"spv:throttle:link:{self.link}:ip:{self.ip}", settings.VAULT_LOGIN_FREE_ATTEMPTS),
            (f"spv:throttle:link:{self.link}", LINK_CEILING),
        ]


def _gone(request, *, json: bool = False):
    if json:
        response = JsonResponse({"error": "This link no longer works."}, status=410)
    else:
        response = render(request, "links/gone.html", status=410)
    response["Cache-Control"] = "no-store"
    return response


def _link(request, link_id) -> Link | None:
    return selectors.working_link(link_id=link_id, token_header=request.META.get(TOKEN_HEADER))


def _passed(request, link: Link) -> bool:
    if not link.password_hash:
        return True
    try:
        value = signing.loads(
            request.META.get(PASS_HEADER, "")[:200], salt=PASS_SALT, max_age=PASS_MAX_AGE
        )
    except signing.BadSignature:
        return False
    return value == {"link": str(link.id), "token": bytes(link.token_hash).hex()[:16]}


@never_cache
@require_GET
def visit(request, link_id):
    link = Link.objects.filter(pk=link_id).first()
    if link is None or not link.works():
        return _gone(request)
    response = render(request, "links/visit.html", {"link_id": link.id})
    response["Content-Security-Policy"] = _PAGE_CSP
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_GET
def manifest(request, link_id):
    link = _link(request, link_id)
    if link is None:
        return _gone(request, json=True)
    if not _passed(request, link):
        return JsonResponse({"password": True}, status=403)
    services.link_opened(link=link)
    return JsonResponse(selectors.link_manifest(link))


@csrf_exempt  # no session here: the token header (from the fragment) is the credential
@never_cache
@require_POST
def unlock(request, link_id):
    link = _link(request, link_id)
    if link is None:
        return _gone(request, json=True)
    subject = _Guesser(link=str(link.id), ip=throttle.client_ip(request))
    wait = throttle.seconds_locked(subject)
    if wait:
        return JsonResponse(
            {"error": f"Too many wrong passwords. Try again in {wait} seconds."}, status=429
        )
    form = UnlockForm(request.POST)
    if not form.is_valid() or not check_password(form.cleaned_data["password"], link.password_hash):
        throttle.record_failure(subject)
        return JsonResponse({"error": "That password is not right."}, status=403)
    throttle.record_success(subject)
    value = {"link": str(link.id), "token": bytes(link.token_hash).hex()[:16]}
    return JsonResponse({"pass": signing.dumps(value, salt=PASS_SALT)})


@never_cache
@require_GET
def blob(request, link_id, photo_id, variant):
    """The SPV1 file as stored: ciphertext only. The original only with "allow downloads"."""
    link = _link(request, link_id)
    if link is None:
        return _gone(request, json=True)
    if not _passed(request, link):
        return JsonResponse({"password": True}, status=403)
    if variant not in VARIANTS or (variant == "original" and not link.allow_downloads):
        raise Http404("No such picture")
    entry = LinkPhoto.objects.filter(link=link, photo_id=photo_id).select_related("photo").first()
    if (
        entry is None
        or not Blob.objects.filter(photo_id=photo_id, variant=variant, index=0).exists()
    ):
        raise Http404("No such picture")
    photo = entry.photo
    try:
        reader = storage.blob_reader(photo.owner_id, photo.id, variant, 0)
    except OSError:
        raise Http404("No such picture") from None
    response = StreamingHttpResponse(
        storage.object_pieces(reader), content_type="application/octet-stream"
    )
    response["Content-Length"] = str(reader.size)
    return response


@never_cache
def gone(request, anything=""):
    return _gone(request)
