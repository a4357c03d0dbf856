"""Behind nginx on the unix socket the client's address comes from X-Real-IP; over TCP a
client cannot pick its own address with that header."""

from vault.proxy_wsgi import application


def _remote_addr(environ: dict) -> str:
    seen = {}

    def fake_django(env, start_response):
        seen["addr"] = env["REMOTE_ADDR"]
        return []

    import vault.proxy_wsgi as module

    original = module.django_application
    module.django_application = fake_django
    try:
        application(environ, lambda *args: None)
    finally:
        module.django_application = original
    return seen["addr"]


def test_unix_socket_peer_takes_the_address_nginx_saw():
    assert _remote_addr({"REMOTE_ADDR": "", "HTTP_X_REAL_IP": "203.0.113.7"}) == "203.0.113.7"


def test_a_tcp_client_cannot_spoof_its_address():
    environ = {"REMOTE_ADDR": "198.51.100.2", "HTTP_X_REAL_IP": "203.0.113.7"}
    assert _remote_addr(environ) == "198.51.100.2"


def test_no_header_on_the_socket_is_one_unknown_client_not_an_error():
    assert _remote_addr({"REMOTE_ADDR": ""}) == "unknown"
