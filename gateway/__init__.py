"""The HTTP gateway: Flask in front, Nameko RPC (over pika) behind."""

from gateway.app import create_app

__all__ = ["create_app"]
