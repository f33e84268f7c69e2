"""One small handler per endpoint; each reads the request, calls the core and renders."""
