"""The shop's configuration: config.yaml, with Consul KV's values over it.

``load_config`` reads it for code outside Nameko (the gateway, the CLIs);
``nameko run`` reads the file itself and builds its containers with
``ConsulConfiguredContainer`` (config.yaml's ``SERVICE_CONTAINER_CLS``), which
lays KV over that config before any extension reads it. KV values under
``CONSUL.KV_PREFIX`` win when Consul is enabled and reachable; otherwise the
file's values apply, with one warning. Logging is configured from the file
before KV is read, so ``LOGGING`` keys in KV do not apply.
"""

import logging

import yaml
from nameko.cli.main import setup_yaml_parser
from nameko.containers import ServiceContainer

from extensions.registration import overlay_consul_kv

log = logging.getLogger(__name__)


def load_config(path="config.yaml", consul_kv=True):
    """Read a Nameko YAML config with its ``${ENV:default}`` values resolved, then KV's
    (``consul_kv=False``: the file's alone)."""
    setup_yaml_parser()
    with open(path) as config_file:
        config = yaml.safe_load(config_file)
    if consul_kv:
        _overlay_once(config)
    return config


# ``nameko run`` hands every container of the process the same config dict, and
# a config from ``load_config`` may go on to build containers: each is overlaid
# once, so a missing Consul costs one attempt and one warning.
_overlaid = set()


def _overlay_once(config):
    if id(config) in _overlaid:
        return
    _overlaid.add(id(config))
    applied = overlay_consul_kv(config)
    if applied:
        log.info("config from Consul KV: %s", ", ".join(sorted(applied)))


class ConsulConfiguredContainer(ServiceContainer):
    def __init__(self, service_cls, config):
        _overlay_once(config)
        super().__init__(service_cls, config)
