"""The WSGI entry point: ``flask --app wsgi run`` or ``gunicorn wsgi:app`` from this folder.
Configuration comes from the ``ISSUER_*`` environment variables (see README.md)."""

from issuer import create_app

app = create_app()
