"""A real Prometheus (the Debian package) run by a test on a free port."""

import shutil
import subprocess

import requests
import yaml
from nameko.testing.utils import find_free_port

from tests.polling import eventually


class Prometheus:
    def __init__(self, workdir, config):
        self.workdir = workdir
        self.port = find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        binary = shutil.which("prometheus")
        assert binary, "prometheus is missing: scripts/ensure-test-services.sh installs it"
        self.log = open(workdir / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        eventually(self._ready, timeout=30)

    def _ready(self):
        assert self.process.poll() is None, (self.workdir / "prometheus.log").read_text()
        try:
            return requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def query(self, expression):
        """The instant vector for ``expression`` as ``[(labels, float value), ...]``."""
        response = requests.get(
            f"{self.url}/api/v1/query", params={"query": expression}, timeout=5
        )
        response.raise_for_status()
        return [
            (item["metric"], float(item["value"][1])) for item in response.json()["data"]["result"]
        ]

    def value(self, expression):
        """The single value of ``expression``, or None while it has no sample."""
        result = self.query(expression)
        return result[0][1] if result else None

    def wait_for(self, expression, expected, timeout=30):
        try:
            eventually(lambda: self.value(expression) == expected, timeout=timeout)
        except AssertionError:
            raise AssertionError(
                f"{expression} is {self.value(expression)}, not {expected}; "
                f"targets: {self.targets()}"
            ) from None

    def targets(self):
        response = requests.get(f"{self.url}/api/v1/targets", timeout=5)
        return response.json()["data"]["activeTargets"]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def static_config(targets, interval="1s"):
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [{"job_name": "shop", "static_configs": [{"targets": targets}]}],
    }
