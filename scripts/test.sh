#!/usr/bin/env bash
# The whole suite (`make test`): two pytest processes side by side for the tests
# that leave the machine's servers alone, then the ones that take the broker or a
# database away (tests/reliability, tests/faults), alone.
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

# About 11 minutes each on this machine (the 25 slowest of each are listed).
"$PYTEST" tests/integration tests/e2e/newcomer "$@" >"$SIDE_LOG" 2>&1 &
side=$!
"$PYTEST" tests/e2e tests/unit --ignore=tests/e2e/newcomer "$@"
status=$?
wait "$side" || status=1
echo "============ tests/integration and tests/e2e/newcomer (run beside the above) ============"
cat "$SIDE_LOG"

# Stops and starts the broker: nothing else may run meanwhile.
"$PYTEST" tests/reliability tests/faults "$@" || status=1
exit "$status"
