"""``python -m tools.token_secret new FILE``: write a fresh random token secret to FILE.

FILE is readable by its owner only and is left alone when it exists: ``make run``
keeps one per checkout in ``var/jwt-secret``. ``shop.token_secret`` says what a
secret must be.
"""

import argparse
import os
import secrets
import sys

from shop.token_secret import MIN_BYTES


def new_secret():
    return secrets.token_hex(MIN_BYTES)


def write_new_secret(path):
    """Write a new secret to ``path`` unless it exists; only its owner may read it."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as secret_file:
        secret_file.write(new_secret() + "\n")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.token_secret")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="write a new random secret to FILE unless it exists")
    new.add_argument("file")
    args = parser.parse_args(argv)
    if write_new_secret(args.file):
        print(f"wrote a new secret to {args.file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
