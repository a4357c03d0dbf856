"""Pure inference, no Django: the model loader, the tagger, the face detector and the face
embedder. Imported by the worker only; the web process never loads these modules."""
