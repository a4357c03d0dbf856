"""The named users of the suite: the owner and another user (STYLE: three named users)."""

PASSWORD = "correct horse battery staple 42"
OTHER_PASSWORD = "another long passphrase 7"
