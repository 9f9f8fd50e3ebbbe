"""The shop's shared vocabulary: plain Python that the services and the gateway both use.

The contract (``contract``: limits, statuses, roles, error names, service and
event names, which both sides of the wire must agree on), the release's
version, money, the business errors (registered with Nameko's deserialiser, so that a
caller gets them back as these types), validation at the RPC boundary,
redaction of secrets, the token secret's check and the AMQP URI list. None of
it is a Nameko extension: those live in ``extensions``.
"""
