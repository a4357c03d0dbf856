"""What photos and people share for background work (DESIGN §3, §4): the queue (its name, job
paths, timeouts, `enqueue`), the registry of live worker keys, the grants that hand keys to
those workers, and the owner-visit hooks."""
