from tests.e2e.gateway.conftest import start_gateway  # noqa: F401 - the gunicorn gateway
from tests.integration.extensions.conftest import prometheus  # noqa: F401 - a real Prometheus
