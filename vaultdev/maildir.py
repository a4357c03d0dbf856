"""A Django email backend for tests whose web server runs in another process (the multi-host
lab): each message is written as a file in VAULT_DEV_MAIL_DIR, named after its first
recipient, so that the test reads the sign-in code the vault sent. The SMTP test double."""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(os.environ["VAULT_DEV_MAIL_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            name = f"{message.to[0].lower()}-{time.time_ns()}.txt"
            partial = folder / f".{name}"
            partial.write_text(message.message().as_string())
            partial.rename(folder / name)  # whole files only: the reader polls the folder
        return len(email_messages)


def last_code(folder: Path, email: str, *, after_ns: int = 0) -> str | None:
    """The 6-digit code of the newest message to `email` written after `after_ns`."""
    import email as email_parser
    import re

    found = []
    for path in folder.glob(f"{email.lower()}-*.txt"):
        stamp = int(path.stem.rsplit("-", 1)[1])
        if stamp > after_ns:
            found.append((stamp, path))
    for _stamp, path in sorted(found, reverse=True):
        message = email_parser.message_from_string(path.read_text())
        parts = message.walk() if message.is_multipart() else [message]
        for part in parts:
            if part.get_content_type() == "text/plain":
                body = part.get_payload(decode=True).decode(errors="replace")
                match = re.search(r"\b(\d{6})\b", body)
                if match:
                    return match.group(1)
    return None
