"""The shop's command-line tools: ``python -m tools.<name>``.

``migrate`` applies each service's migrations, ``dead_letters`` lists and replays
dead-lettered events, ``broker_users`` provisions one RabbitMQ user per process,
and ``pgadmin`` runs the server-level PostgreSQL statements they and the tests need.
"""

import extensions  # noqa: F401 - as in every shop process: its warning filter and patches
