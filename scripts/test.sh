#!/usr/bin/env bash
# The whole suite (`make test`): two pytest processes side by side for every test that
# leaves the machine's broker running, then the ones that stop it or need it to
# themselves, alone.
#
# pytest-xdist cannot share the work out here: eventlet's monkey patch, which nameko
# needs first, deadlocks xdist's workers. Each test has its own vhost and databases,
# so two processes do not see each other's data; on two cores they take about as
# long as the longer of the two, instead of their sum.
set -u
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
SIDE_LOG=$(mktemp)
trap 'rm -f "$SIDE_LOG"' EXIT
# Stop the machine's broker (marker broker_outage) or start and stop nodes of a
# cluster of their own (rabbit_cluster): these run alone, after the rest.
ALONE="broker_outage or rabbit_cluster"

# Two fault modules join the end-to-end tests, so that both streams take about as long:
# 11 minutes each on this machine (12.5 and 9.5 without the move; the 25 slowest of
# each are listed).
MOVED=(tests/faults/test_process_faults.py tests/faults/test_redis_faults.py)
"$PYTEST" tests/integration tests/faults "${MOVED[@]/#/--ignore=}" -m "not ($ALONE)" "$@" \
    >"$SIDE_LOG" 2>&1 &
side=$!
"$PYTEST" tests/e2e tests/unit "${MOVED[@]}" -m "not ($ALONE)" "$@"
status=$?
wait "$side" || status=1
echo "============ tests/integration and tests/faults (run beside the above) ============"
cat "$SIDE_LOG"

# tests/reliability counts the whole broker's tables, and stops the broker.
"$PYTEST" tests/reliability tests/faults -m "not faults or $ALONE" "$@" || status=1
# The last outage's vhost, deleted as the broker came back, may have stopped the
# broker's supervisor of dead-letter workers: leave the broker as it was found.
"${VENV:-.venv}/bin/python" -m tests.rabbitmqctl check || status=1
exit "$status"
