"""The shop's installed version, for span resources and Consul's service meta."""

from importlib import metadata


def shop_version():
    """The version ``pyproject.toml`` gave the installed package, or "unknown"."""
    try:
        return metadata.version("shop")
    except metadata.PackageNotFoundError:
        return "unknown"
