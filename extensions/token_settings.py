"""``TokenSettings``: the ``TOKEN`` config section of a service that signs tokens."""

from nameko.extensions import DependencyProvider

from shop.token_secret import checked_token_settings


class TokenSettings(DependencyProvider):
    """``TOKEN`` from the config, checked as the container starts: a service that signs
    tokens will not run with a secret that others know."""

    def setup(self):
        self.settings = checked_token_settings(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings
