"""bench.order_path runs each revision with that revision's own commands."""

import subprocess
from pathlib import Path

from bench.order_stack import Tree, migration_command

BASELINE = "c8d7799"  # the Makefile's ORDER_PATH_BASELINE: before issue 12 moved migrate
REPO = Path(__file__).resolve().parents[3]


def _tree_of(revision, tmp_path):
    """The files of ``revision`` that name its migration module, in a folder."""
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", revision],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in listed:
        if name.endswith("migrate.py"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).touch()
    return Tree(revision, tmp_path, tmp_path / ".venv" / "bin")


def test_the_working_tree_is_migrated_by_tools_migrate():
    tree = Tree("this", REPO, REPO / ".venv" / "bin")

    assert migration_command(tree)[1:3] == ["-m", "tools.migrate"]


def test_a_baseline_from_before_the_move_is_migrated_by_its_own_extensions_migrate(tmp_path):
    tree = _tree_of(BASELINE, tmp_path)

    assert migration_command(tree)[1:3] == ["-m", "extensions.migrate"]
