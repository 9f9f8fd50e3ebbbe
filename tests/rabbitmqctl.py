"""The broker's control command, for the tests that stop and start the broker.

On the machines this project is built on the broker is a local node: ``rabbitmqctl``.
CI runs it in a container, and sets ``RABBITMQCTL`` to the command line that reaches it
(``docker exec CONTAINER rabbitmqctl``, .github/workflows/ci.yml).
"""

import os
import shlex
import subprocess


def rabbitmqctl(*args):
    command = shlex.split(os.environ.get("RABBITMQCTL", "rabbitmqctl"))
    subprocess.run([*command, *args], check=True, capture_output=True, timeout=120)
