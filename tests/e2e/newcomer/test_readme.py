"""The README runs as written, and shows what its reader sees.

Against ``TRACING_EXPORTER=console make run`` in a checkout of the test's own
(conftest.py): the README's ``sh`` blocks in order, in one shell, each checked
against the ``text`` block after it; then its ``make shell`` session, typed into
a terminal line by line and checked against the README; then the ``sh`` blocks
once more, so that the curl walk-through and the shell session are shown to work
in either order on one database. The test changes only what ties the README to
this machine: ``localhost:8000`` and ``localhost:9102`` become the checkout's
gateway and metrics ports, and the shell's ``Broker:`` line names the test's vhost.
"""

import re
import shlex
import subprocess

from tests.e2e.newcomer import readme

DEFAULT_AMQP_URI = "pyamqp://guest:guest@localhost:5672/"  # config.yaml's default
_MARKER = "@@README-BLOCK-{}@@"
# The README's trace walk-through: the spans one order makes, across the processes.
ORDER_SPANS = (
    "POST /api/orders",
    "orders/create_order",
    "publish order_created",
    "process order_created",
    "publish stock_reserved",
    "process stock_reserved",
)


def _on_this_machine(text, checkout):
    return text.replace("localhost:8000", f"localhost:{checkout.gateway_port}").replace(
        "localhost:9102", f"localhost:{checkout.metrics_port}"
    )


def run_the_sh_blocks(checkout):
    """Every ``sh`` block in one shell, as a reader pastes them one after the other."""
    pairs = readme.commands_and_outputs()
    script = "".join(
        f"printf '\\n{_MARKER.format(index)}\\n'\n{_on_this_machine(block.body, checkout)}"
        for index, (block, _output) in enumerate(pairs)
    )
    shell = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=checkout.path,
        env=checkout.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
    )
    printed = re.split(r"\n@@README-BLOCK-\d+@@\n", shell.stdout)[1:]
    assert len(printed) == len(pairs), shell.stdout
    for (block, output), actual in zip(pairs, printed, strict=True):
        expected = output.body if output else ""
        assert readme.shows(expected, actual), (
            f"README.md:{block.line} printed\n{actual}\ninstead of\n{expected}"
        )


def run_the_shell_session(checkout):
    command, transcript = readme.shell_session()
    expected = transcript.replace(DEFAULT_AMQP_URI, checkout.env["AMQP_URI"])
    terminal = checkout.in_a_terminal(shlex.split(command))
    try:
        terminal.wait_for(lambda shown: shown.endswith(">>> "), timeout=60)
        for line in transcript.splitlines():
            if line.startswith((">>>", "...")):
                typed_from = len(terminal.output())
                terminal.type(line[4:])
                terminal.wait_for(
                    lambda shown: shown.endswith((">>> ", "... ")), timeout=60, since=typed_from
                )
        shown = terminal.output().removesuffix(">>> ")
    finally:
        terminal.stop()
    assert readme.shows(expected, shown), f"make shell showed\n{shown}\ninstead of\n{expected}"


def test_the_readme_walk_throughs_run_as_written_in_either_order(running_shop):
    checkout, terminal = running_shop

    run_the_sh_blocks(checkout)
    run_the_shell_session(checkout)
    run_the_sh_blocks(checkout)

    # Each process prints its spans as the batch exporter flushes them (every 5 s).
    terminal.wait_for(
        lambda shown: all(f'"name": "{span}"' in shown for span in ORDER_SPANS), timeout=30
    )
