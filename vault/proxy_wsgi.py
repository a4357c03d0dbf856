"""WSGI entry point for gunicorn behind nginx on a unix socket (systemd/vault-web.service).

Over a unix socket gunicorn has no client address (REMOTE_ADDR is empty), and the sign-in
throttle (vault.accounts.throttle) keys on REMOTE_ADDR. Only nginx can connect to that socket
(root:www-data, 0660, made by vault-web.socket), and nginx overwrites X-Real-IP with the
address it saw, so here, and only here, the header is the client's address. A request that
reached gunicorn over TCP keeps its own REMOTE_ADDR whatever headers it sends.
"""

from vault.wsgi import application as django_application


def application(environ, start_response):
    if not environ.get("REMOTE_ADDR"):
        environ["REMOTE_ADDR"] = environ.get("HTTP_X_REAL_IP", "").strip() or "unknown"
    return django_application(environ, start_response)
