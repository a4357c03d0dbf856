"""The password-reset form does not frighten (issue 24.5): "my old photos will be deleted" is
shown only on the path without a recovery key, never beside the recovery-key field."""

from html.parser import HTMLParser

from tests.accounts.test_password_and_recovery import _recovery_link

UNDERSTAND = "I understand that my old photos will be deleted"


class _WhereIsIt(HTMLParser):
    """Records whether the text is seen inside the <details> of the start-over path."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.inside: list[bool] = []

    def handle_starttag(self, tag, attrs):
        if tag == "details":
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self.depth -= 1

    def handle_data(self, data):
        if UNDERSTAND in data:
            self.inside.append(self.depth > 0)


def _where(html: str) -> list[bool]:
    parser = _WhereIsIt()
    parser.feed(html)
    return parser.inside


def test_the_warning_box_is_only_on_the_start_over_path(client, owner):
    html = client.get(_recovery_link(client, owner.email)).content.decode()
    assert _where(html) == [True]  # once, inside "I do not have my recovery key"
    assert 'name="understand"' in html  # still sent with the start-over button


def test_starting_over_without_the_box_says_so_with_the_path_open(client, owner):
    link = _recovery_link(client, owner.email)
    response = client.post(
        link,
        {"action": "start_over", "code": "123456", "new1": "x", "new2": "x"},
    )
    html = response.content.decode()
    assert "Tick this box to start over with an empty vault." in html
    assert '<details class="start-over" open>' in html
    assert _where(html) == [True]
