import pytest

MARKER = "broker_outage"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"{MARKER}: stops and restarts the real RabbitMQ; runs after every other test"
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    # Stable sort: the outage tests go last, so nothing else sees the broker down.
    items.sort(key=lambda item: item.get_closest_marker(MARKER) is not None)
