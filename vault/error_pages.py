"""The site's plain page for "405 Method Not Allowed" (issue 24.7).

Django has handlers for 400, 403, 404 and 500 but none for 405: `require_POST` answers an
address opened directly (a bookmark, a typed URL, Back after a form) with an empty body, which
browsers show as a blank page. This middleware gives such answers the site's page instead,
keeping the status and the Allow header.
"""

from __future__ import annotations

from django.shortcuts import render


class MethodNotAllowedPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.streaming or response.content:
            return response
        page = render(request, "405.html", status=405)
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        return page
