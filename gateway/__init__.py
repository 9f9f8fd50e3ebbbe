"""The HTTP gateway: Flask in front, Nameko RPC (over pika) behind.

``create_app`` lives in ``gateway.app``. This package imports nothing itself:
gunicorn loads ``gateway.gunicorn_conf`` through it, and that module must set
``PROMETHEUS_MULTIPROC_DIR`` before anything imports prometheus_client.
"""
