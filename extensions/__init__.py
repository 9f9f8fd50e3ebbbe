"""Nameko extensions and small helpers shared by the shop's services."""
