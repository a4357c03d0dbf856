"""Account pages, split by flow: registration, login, security settings, recovery."""
