"""gunicorn settings for the gateway: threaded workers, port from GATEWAY_PORT."""

import os
import shutil
import tempfile

bind = f"{os.environ.get('GATEWAY_HOST', '0.0.0.0')}:{os.environ.get('GATEWAY_PORT', '8000')}"
# gunicorn's gthread worker, but a thread gets a request only once it has all
# arrived, within GATEWAY_READ_TIMEOUT (10 s; then 408), and closing a connection
# never blocks the event loop: slow clients hold no thread (gateway/gunicorn_worker.py).
worker_class = "gateway.gunicorn_worker.BufferingThreadWorker"
# Without Redis each worker keeps its own rate-limit counts: one worker keeps the
# limits exact (docs/gateway.md, "Rate limits without REDIS_URI").
workers = int(os.environ.get("GATEWAY_WORKERS", "2" if os.environ.get("REDIS_URI") else "1"))
# Threads mostly wait on RPC replies, so many per worker are cheap.
threads = int(os.environ.get("GATEWAY_THREADS", "16"))
timeout = 30
# gunicorn's defaults, named: a longer request line is 414, more or longer header
# fields 431 (the worker also refuses a head over 64 KiB in all with 431).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
graceful_timeout = 10
accesslog = None  # the app writes its own JSON access log line
errorlog = "-"

# Nothing here talks to gunicorn's control socket, and every gateway on the
# machine would share its one default path.
control_socket_disable = True

# Several workers each count their own metrics; prometheus_client sums them
# from files in this folder (PROMETHEUS_MULTIPROC_DIR). It is made in when_ready,
# once the port is ours and before any worker starts, so a gateway that cannot
# bind its port leaves none behind; one made here is removed when the server exits.
_own_metrics_dirs = []


def child_exit(_server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


_consul_agents = []


def when_ready(_server):
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")
        _own_metrics_dirs.append(os.environ["PROMETHEUS_MULTIPROC_DIR"])

    # One Consul registration per gateway instance (this master and its workers),
    # with the HTTP port, where Prometheus also finds /metrics.
    from extensions.config import load_config
    from extensions.registration import start_agent

    config = load_config(os.environ.get("SHOP_CONFIG", "config.yaml"))
    agent = start_agent(config, "gateway", bind.rsplit(":", 1)[1], tags=["gateway", "http"])
    if agent is not None:
        _consul_agents.append(agent)


def on_exit(_server):
    for agent in _consul_agents:
        agent.stop()
    for folder in _own_metrics_dirs:
        shutil.rmtree(folder, ignore_errors=True)
