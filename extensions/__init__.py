"""The Nameko extensions of the shop's services (plain shared code is in ``shop``).

Importing any of them makes Nameko's consumers outlive a lost broker
connection (``extensions.broker``), settle the messages of workers that
finish while their container stops (``extensions.graceful``), and reply to
RPC calls transient and unconfirmed (``extensions.replies``).

It also silences, before anything imports them, the third-party warnings that
every start would print and that nobody here can act on: eventlet's notice that
it is deprecated (nameko 2.14 runs on it). Every process of the shop imports
this package first, except nameko's own command line (``nameko run``,
``nameko shell``), which imports eventlet before any of the shop's code: for
those the Makefile sets ``EVENTLET_TESTS``, eventlet's own switch for that one
notice.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from extensions import broker, graceful, replies  # noqa: E402 - after the filter, which they need

broker.install()
graceful.install()
replies.install()
