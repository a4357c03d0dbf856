"""Pure inference, no Django: the model loader, the tagger (and later the face detector and
embedder). Imported by the worker only; the web process never loads these modules."""
