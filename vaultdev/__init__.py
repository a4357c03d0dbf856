"""Development and test tooling: embedded PostgreSQL/Valkey and the `make run` supervisor."""
