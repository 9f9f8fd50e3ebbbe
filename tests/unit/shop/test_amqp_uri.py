"""``AMQP_URI`` with the nodes of a cluster (``shop.amqp_uri``)."""

import logging
from types import SimpleNamespace

import pytest
from nameko.messaging import QueueConsumer

import extensions  # noqa: F401  (installs the patches of extensions.broker)
from shop.amqp_uri import node_uris, redacted

CLUSTER = "pyamqp://shop:first-secret@r1:5672/shop; pyamqp://shop:second-secret@r2:5673/shop;"


def test_each_node_is_a_whole_uri_in_the_order_given():
    assert node_uris(CLUSTER) == [
        "pyamqp://shop:first-secret@r1:5672/shop",
        "pyamqp://shop:second-secret@r2:5673/shop",
    ]
    assert node_uris("pyamqp://guest:guest@localhost:5672//") == [
        "pyamqp://guest:guest@localhost:5672//"
    ]


def test_a_uri_naming_no_node_is_refused():
    with pytest.raises(ValueError, match="no broker node"):
        node_uris(" ; ")


def test_every_nodes_password_is_masked_for_the_logs():
    assert redacted(CLUSTER) == "pyamqp://shop:***@r1:5672/shop;pyamqp://shop:***@r2:5673/shop"
    assert redacted("amqp://[::1]:5672/") == "amqp://[::1]:5672/"


def test_a_service_that_cannot_connect_names_the_nodes_without_their_passwords(caplog):
    consumer = QueueConsumer()
    consumer.container = SimpleNamespace(config={"AMQP_URI": CLUSTER})

    with caplog.at_level(logging.WARNING):
        consumer.on_connection_error(ConnectionRefusedError("refused"), 2)

    assert "r1:5672" in caplog.text and "r2:5673" in caplog.text
    assert "secret" not in caplog.text  # nameko's own warning masks the first node's only
