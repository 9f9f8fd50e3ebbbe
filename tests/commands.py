"""How production starts the shop's processes, for the tests that start them too."""

import sys

NAMEKO_RUN = [sys.executable, "-m", "nameko", "run", "--config", "config.yaml"]
GATEWAY = [
    sys.executable,
    "-m",
    "gunicorn",
    "-c",
    "python:gateway.gunicorn_conf",
    "gateway.wsgi:app",
]


def service_command(*services):
    """``nameko run`` of the given services, all in one process."""
    return [*NAMEKO_RUN, *(f"{service}.service" for service in services)]
