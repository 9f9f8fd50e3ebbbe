"""Nameko extensions and small helpers shared by the shop's services.

Importing any of them makes Nameko's consumers outlive a lost broker
connection (``extensions.broker``), settle the messages of workers that
finish while their container stops (``extensions.graceful``), and reply to
RPC calls transient and unconfirmed (``extensions.replies``).
"""

from extensions import broker, graceful, replies

broker.install()
graceful.install()
replies.install()
