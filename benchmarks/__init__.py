"""Benchmarks that drive a real `python -m broker` process over HTTP."""
