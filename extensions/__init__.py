"""Nameko extensions and small helpers shared by the shop's services.

Importing any of them makes Nameko's consumers outlive a lost broker
connection (``extensions.broker``) and settle the messages of workers that
finish while their container stops (``extensions.graceful``).
"""

from extensions import broker, graceful

broker.install()
graceful.install()
