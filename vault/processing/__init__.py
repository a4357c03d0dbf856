"""What photos and people share for background work: the queue (its name, job paths, timeouts,
`enqueue`) and the registry of live worker keys (DESIGN §3, §4)."""
