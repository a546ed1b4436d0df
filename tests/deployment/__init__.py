"""Tests against a real deployment: ``merkki init`` and ``gunicorn`` in subprocesses."""
