"""WSGI entry point: ``gunicorn -c python:gateway.gunicorn_conf gateway.wsgi:app``."""

from gateway.app import create_app

app = create_app()
