"""Load config.yaml the way ``nameko run --config`` does, for code outside Nameko."""

import yaml
from nameko.cli.main import setup_yaml_parser


def load_config(path="config.yaml"):
    """Read a Nameko YAML config with its ``${ENV:default}`` values resolved."""
    setup_yaml_parser()
    with open(path) as config_file:
        return yaml.safe_load(config_file)
