"""The deploy files' YAML as compose and kubectl read it: merge keys, no ${...} resolution.

Loading config.yaml (extensions.config) teaches PyYAML's SafeLoader Nameko's
``${VAR:default}`` resolution for good; compose resolves those itself.
"""

import yaml


class _PlainLoader(yaml.SafeLoader):
    pass


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "!env_var"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path):
    return yaml.load(path.read_text(), Loader=_PlainLoader)


def load_all(path):
    return [doc for doc in yaml.load_all(path.read_text(), Loader=_PlainLoader) if doc]
