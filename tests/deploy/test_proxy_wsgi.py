"""Behind nginx on the unix socket the client's address comes from X-Real-IP; over TCP a
client cannot pick its own address with that header."""

import pytest

from vault import proxy_wsgi


@pytest.fixture
def remote_addr(monkeypatch):
    """Call the entry point; return the REMOTE_ADDR that Django would have seen."""
    seen = {}

    def django_application(environ, start_response):
        seen["addr"] = environ["REMOTE_ADDR"]
        return []

    monkeypatch.setattr(proxy_wsgi, "django_application", django_application)

    def call(environ: dict) -> str:
        proxy_wsgi.application(environ, lambda *args: None)
        return seen["addr"]

    return call


def test_unix_socket_peer_takes_the_address_nginx_saw(remote_addr):
    assert remote_addr({"REMOTE_ADDR": "", "HTTP_X_REAL_IP": "203.0.113.7"}) == "203.0.113.7"


def test_a_tcp_client_cannot_spoof_its_address(remote_addr):
    environ = {"REMOTE_ADDR": "198.51.100.2", "HTTP_X_REAL_IP": "203.0.113.7"}
    assert remote_addr(environ) == "198.51.100.2"


def test_no_header_on_the_socket_is_one_unknown_client_not_an_error(remote_addr):
    assert remote_addr({"REMOTE_ADDR": ""}) == "unknown"
