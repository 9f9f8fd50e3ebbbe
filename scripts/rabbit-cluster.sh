#!/usr/bin/env bash
# A three-node RabbitMQ cluster of the shop's own, beside (never joined to) the
# machine's node on 5672: for the cluster fault scenarios and the benchmarks.
#
#   scripts/rabbit-cluster.sh start    # start the nodes that are down, form the cluster
#   scripts/rabbit-cluster.sh status   # each node: running or not, its ports
#   scripts/rabbit-cluster.sh stop     # stop these nodes only, and delete their data
#
# The nodes run as user rabbitmq (through runuser, so as root) on free ports.
# RABBIT_CLUSTER_DIR (default var/rabbit-cluster) holds the state file `nodes`,
# one line per node: "name amqp_port management_port dist_port", read by
# `status`, `stop` and the tests. The nodes' data, logs and config live in a
# directory of their own under /tmp (user rabbitmq must reach it), named in
# the state directory's `data` file.
#
# Guest/guest works on 127.0.0.1, as on the machine's node. A node stopped by
# hand (`rabbitmqctl -n NODE stop`) is started again by `start`, with its data.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
STATE_DIR=${RABBIT_CLUSTER_DIR:-$REPO/var/rabbit-cluster}
NODES_FILE=$STATE_DIR/nodes
SIZE=3
# Where the Debian package keeps the real scripts: the /usr/sbin wrappers run them
# through su and write the machine node's startup log.
RABBIT_BIN=${RABBIT_BIN:-/usr/lib/rabbitmq/bin}
RABBIT_HOME=/var/lib/rabbitmq  # its .erlang.cookie: the CLI and the nodes must share it

die() { echo "rabbit-cluster: $*" >&2; exit 1; }

as_rabbitmq() { runuser -u rabbitmq -- env HOME="$RABBIT_HOME" "$@"; }

ctl() { as_rabbitmq "$RABBIT_BIN/rabbitmqctl" "$@"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Below the kernel's ephemeral range: a client's outgoing connection could otherwise
# take a stopped node's port, and the node could not start again.
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)

CHOSEN=" "

free_port() {  # sets PORT (a command substitution could not remember what it chose)
  while :; do
    PORT=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
    [[ $CHOSEN == *" $PORT "* ]] || port_open "$PORT" || break
  done
  CHOSEN="$CHOSEN$PORT "
}

check_prerequisites() {
  [ "$(id -u)" = 0 ] || die "run as root: the nodes run as user rabbitmq through runuser"
  command -v runuser >/dev/null || die "runuser is missing (util-linux)"
  id rabbitmq >/dev/null 2>&1 || die "user rabbitmq is missing (install the rabbitmq-server package)"
  [ -x "$RABBIT_BIN/rabbitmq-server" ] || die "no $RABBIT_BIN/rabbitmq-server (set RABBIT_BIN)"
}

data_dir() { cat "$STATE_DIR/data"; }

ensure_cookie() {
  # The nodes and the CLI authenticate with user rabbitmq's cookie. A fresh install
  # whose own node never ran has none yet, and three nodes booting at once would
  # each write a different one.
  [ -s "$RABBIT_HOME/.erlang.cookie" ] && return
  as_rabbitmq sh -c 'umask 077; tr -dc A-Z </dev/urandom | head -c 20 >"$HOME/.erlang.cookie"'
}

new_cluster() {
  mkdir -p "$STATE_DIR"
  local data suffix ports
  data=$(mktemp -d /tmp/shop-rabbit-cluster.XXXXXX)
  chmod 755 "$data"
  echo "$data" >"$STATE_DIR/data"
  suffix=$(basename "$data" | cut -d. -f2 | tr 'A-Z' 'a-z')
  : >"$NODES_FILE.new"
  for index in $(seq 1 $SIZE); do
    ports=""
    for _ in amqp management dist; do free_port; ports="$ports $PORT"; done
    echo "shop$index-$suffix@localhost$ports" >>"$NODES_FILE.new"
  done
  while read -r name amqp management _dist <&3; do
    local dir=$data/${name%@*}
    mkdir -p "$dir"
    cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.local = 127.0.0.1:$amqp
management.tcp.ip = 127.0.0.1
management.tcp.port = $management
# What a production cluster runs: the minority side of a partition pauses.
cluster_partition_handling = pause_minority
EOF
    echo "[rabbitmq_management]." >"$dir/enabled_plugins"
    chown -R rabbitmq:rabbitmq "$dir"
  done 3<"$NODES_FILE.new"
  mv "$NODES_FILE.new" "$NODES_FILE"
}

# A node is up once its AMQP port is open: its listeners start last in its boot.
# (A port probe, not `rabbitmqctl ping`: each CLI call costs a second of CPU.)
running() { port_open "$1"; }

launch() {
  local name=$1 dist=$2 dir
  dir=$(data_dir)/${name%@*}
  # -detached: the node outlives this script. The Erlang flags stop the schedulers
  # from busy-waiting: the machine's cores are shared.
  as_rabbitmq \
    RABBITMQ_NODENAME="$name" \
    RABBITMQ_DIST_PORT="$dist" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" \
    RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_CONF_ENV_FILE=/dev/null \
    ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none -kernel inet_dist_use_interface {127,0,0,1}" \
    "$RABBIT_BIN/rabbitmq-server" -detached
}

wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || die "$what: not after ${deadline}s"
    sleep 0.2
  done
}

quietly() {  # the CLI's output only when it fails
  local out
  out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }
}

node_log_tail() {
  tail -n 40 "$(data_dir)/${1%@*}"/log/*.log >&2 2>/dev/null || true
}

# One node at a time: Mnesia can fail to start on a node that joins while another
# joins the same seed (seen here once: start_app failed in mnesia_app:start).
# A node that still fails is reset and tries once more, its log shown.
join() {
  local node=$1 seed=$2 attempt
  for attempt in 1 2; do
    if quietly ctl -n "$node" stop_app \
      && quietly ctl -n "$node" join_cluster "$seed" \
      && quietly ctl -n "$node" start_app; then
      touch "$(data_dir)/${node%@*}/joined"
      return 0
    fi
    echo "rabbit-cluster: $node could not join $seed (attempt $attempt); its log:" >&2
    node_log_tail "$node"
    quietly ctl -n "$node" stop_app || true
    quietly ctl -n "$node" reset || true
  done
  return 1
}

start() {
  check_prerequisites
  ensure_cookie
  [ -s "$NODES_FILE" ] && [ -d "$(data_dir)" ] || new_cluster
  local first started=()
  first=$(head -1 "$NODES_FILE" | cut -d' ' -f1)
  # Every node is launched before any is awaited: a restarted member waits for its
  # peers, and the nodes boot in parallel.
  while read -r name amqp _management dist <&3; do
    running "$amqp" || { launch "$name" "$dist"; started+=("$name $amqp"); }
  done 3<"$NODES_FILE"
  for node in "${started[@]}"; do
    set -- $node
    wait_until 120 "$1" running "$2"
  done
  # A member restarted rejoins by itself; a node that never joined (a new one, or
  # one whose join failed in an earlier start) joins the first.
  while read -r name _rest <&3; do
    if [ "$name" != "$first" ] && [ ! -e "$(data_dir)/${name%@*}/joined" ]; then
      join "$name" "$first" || die "$name could not join the cluster"
    fi
  done 3<"$NODES_FILE"
  status
}

status() {
  [ -s "$NODES_FILE" ] || { echo "no cluster (state directory $STATE_DIR)"; return 1; }
  echo "state directory: $STATE_DIR"
  local down=0
  while read -r name amqp management dist <&3; do
    if running "$amqp"; then state=running; else state=down; down=1; fi
    echo "$name $state amqp=$amqp management=$management dist=$dist"
  done 3<"$NODES_FILE"
  return $down
}

stop_node() {
  local name=$1 pid
  pid=$(cat "$(data_dir)/${name%@*}/rabbitmq.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null  # a paused node cannot stop
  ctl -t 30 -n "$name" stop >/dev/null 2>&1 || true
  # A node that did not stop (hung) is ended by its own pid, and only it.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

stop() {
  [ -s "$NODES_FILE" ] || { echo "no cluster (state directory $STATE_DIR)"; return 0; }
  check_prerequisites
  local data
  data=$(data_dir)
  while read -r name _rest <&3; do
    stop_node "$name" &
  done 3<"$NODES_FILE"
  wait
  case "$data" in /tmp/shop-rabbit-cluster.*) rm -rf "$data" ;; esac
  rm -f "$NODES_FILE" "$STATE_DIR/data"
  echo "stopped; state directory $STATE_DIR"
}

case "${1:-}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
