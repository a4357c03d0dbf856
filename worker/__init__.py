"""RQ job entry points and the worker-side pipeline. Jobs are thin: ids in, a service call out."""
