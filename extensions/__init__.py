"""Nameko extensions and small helpers shared by the shop's services.

Importing any of them makes Nameko's consumers outlive a lost broker
connection (``extensions.broker``).
"""

from extensions import broker

broker.install()
