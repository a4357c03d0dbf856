"""The security headers Django 5.2 does not send by itself: Content-Security-Policy,
Permissions-Policy and Cross-Origin-Resource-Policy, on every response.

Listed before whitenoise in MIDDLEWARE, so static files get them too. The headers are built once,
from SECURE_CSP, PERMISSIONS_POLICY and SECURE_CROSS_ORIGIN_RESOURCE_POLICY (vault/settings.py);
a view that sets one of them itself keeps its own.
"""

from __future__ import annotations

from django.conf import settings


def csp_header(policy: dict[str, list[str] | bool]) -> str:
    """{"default-src": ["'self'"], "upgrade-insecure-requests": True} -> the header value."""
    parts = []
    for directive, sources in policy.items():
        if sources is True:
            parts.append(directive)
        elif sources:
            parts.append(" ".join([directive, *sources]))
    return "; ".join(parts)


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """{"camera": [], "fullscreen": ["self"]} -> "camera=(), fullscreen=(self)"."""
    return ", ".join(f"{feature}=({' '.join(allow)})" for feature, allow in policy.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = csp_header(settings.SECURE_CSP)
        self.headers = {
            "Permissions-Policy": permissions_policy_header(settings.PERMISSIONS_POLICY),
            "Cross-Origin-Resource-Policy": settings.SECURE_CROSS_ORIGIN_RESOURCE_POLICY,
        }

    def __call__(self, request):
        response = self.get_response(request)
        for name, value in self.headers.items():
            if value:
                response.headers.setdefault(name, value)
        # With DEBUG on, an error response is Django's technical page, which is built from
        # inline styles and scripts: the policy would only hide the traceback asked for.
        if self.csp and not (settings.DEBUG and response.status_code >= 400):
            response.headers.setdefault("Content-Security-Policy", self.csp)
        return response
