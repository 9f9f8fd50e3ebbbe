"""The README's fenced blocks, by kind, as the README test runs them.

The info string after the opening fence says what a block is:

- ``sh``: commands that run as written, in order, in one shell;
- ``text``: what the ``sh`` block just before it prints (``...`` stands for
  what differs from run to run, as in doctest);
- ``pycon``: the ``make shell`` session: its first line is the command, the
  rest what the terminal shows;
- ``console``: shown, not run (``make run`` itself, commands for other machines).

Any other block, or a ``text`` block that does not follow an ``sh`` block, is an
error: the test cannot tell whether the reader should run it.
"""

import doctest
import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"
KINDS = ("sh", "text", "pycon", "console")
_FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
_CHECKER = doctest.OutputChecker()


@dataclass
class Block:
    kind: str
    body: str
    line: int  # where it starts in README.md, for messages


def blocks(text=None):
    text = README.read_text() if text is None else text
    found = []
    for match in _FENCE.finditer(text):
        kind = match["info"].strip()
        line = text.count("\n", 0, match.start()) + 1
        if kind not in KINDS:
            raise AssertionError(f"README.md:{line}: a block marked {kind!r}, not one of {KINDS}")
        found.append(Block(kind, match["body"], line))
    return found


def commands_and_outputs(text=None):
    """``[(sh block, the text block after it, or None)]`` in README order."""
    pairs = []
    for block in blocks(text):
        if block.kind == "sh":
            pairs.append((block, None))
        elif block.kind == "text":
            if not pairs or pairs[-1][1] is not None:
                raise AssertionError(f"README.md:{block.line}: an output with no sh block before")
            pairs[-1] = (pairs[-1][0], block)
    return pairs


def shell_session(text=None):
    """``(command, transcript)`` of the one ``pycon`` block."""
    (session,) = [block for block in blocks(text) if block.kind == "pycon"]
    command, transcript = session.body.split("\n", 1)
    return command.removeprefix("$ "), transcript


def console_block(first_line, text=None):
    """The body of the ``console`` block that starts with ``first_line``."""
    (block,) = [
        block
        for block in blocks(text)
        if block.kind == "console" and block.body.startswith(first_line + "\n")
    ]
    return block.body


def _tidy(text):
    # A terminal shows trailing spaces (readline's "... " prompt) the README drops.
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"


def shows(expected, actual):
    """Whether ``actual`` is what the README shows, ``...`` matching anything."""
    return _CHECKER.check_output(_tidy(expected), _tidy(actual), doctest.ELLIPSIS)
