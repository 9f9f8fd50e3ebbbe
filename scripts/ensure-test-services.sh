#!/usr/bin/env bash
# Make sure the servers the test suite talks to are up on this machine, and
# start the ones that are not (as this machine's images start them).
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done
  echo "port $1 did not open" >&2; return 1
}

if ! port_open 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_port 5432
fi
if ! port_open 6379; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379
fi
if ! port_open 5672; then
  rabbitmq-server -detached
  wait_port 5672
fi
# Nameko's test fixtures give each test its own vhost through the management API.
if ! port_open 15672; then
  rabbitmq-plugins enable rabbitmq_management >/dev/null
  wait_port 15672
fi
# A broker that cannot declare a quorum queue fails every test that starts a service:
# a local node in that state is restarted (tests/rabbitmqctl.py says when it happens).
"${VENV:-.venv}/bin/python" -m tests.rabbitmqctl check
# The extension tests run a real Prometheus (Debian's package) on a free port; the
# README test runs the README's curl walk-through.
missing=""
command -v prometheus >/dev/null || missing="$missing prometheus"
command -v curl >/dev/null || missing="$missing curl"
if [ -n "$missing" ]; then
  apt-get update -qq
  # shellcheck disable=SC2086 # one package name per word
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
