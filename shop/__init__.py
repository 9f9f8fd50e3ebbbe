"""The shop's shared vocabulary: plain Python that the services and the gateway both use.

Nothing here imports Nameko: money, the business errors, validation at the RPC
boundary, redaction of secrets, the token secret's check and the AMQP URI list.
"""
