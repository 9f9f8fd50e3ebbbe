"""``bench.cpu.used_seconds``: each CPU second of a window counted once."""

from bench.cpu import used_seconds

SERVER = "100 ended"  # the server's entry: the CPU of the backends it has reaped


def test_a_backend_that_ends_in_the_window_counts_only_what_it_spent_in_it():
    before = {"postgres": {SERVER: 10.0, 201: 4.0, 202: 1.0}}
    # 201 spent 0.5 s more and ended: the server reaped its 4.5 s; 202 spent 0.25 s.
    after = {"postgres": {SERVER: 14.5, 202: 1.25}}

    assert used_seconds(before, after)["postgres"] == 0.75


def test_a_backend_that_starts_and_ends_in_the_window_counts_whole():
    before = {"postgres": {SERVER: 10.0}}
    after = {"postgres": {SERVER: 13.0, 300: 0.5}}

    assert used_seconds(before, after)["postgres"] == 3.5


def test_a_process_of_a_group_without_an_ended_entry_that_ended_counts_nothing():
    before = {"gateway": {7: 2.0, 8: 1.0}}
    after = {"gateway": {7: 2.5}}

    assert used_seconds(before, after)["gateway"] == 0.5
