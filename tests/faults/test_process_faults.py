"""F2 and F3: a service process killed, or stopped gracefully, while orders are in flight."""

import signal
import time

import pytest

from tests.faults import inject

pytestmark = pytest.mark.faults

# A service that stops on SIGTERM must be gone well inside Kubernetes' default
# grace period (30 s): nameko stops consuming at once and waits only for the
# workers in flight, which take milliseconds here (an RPC to another service
# gives up after RPC_TIMEOUT_SECONDS, 3).
GRACE_SECONDS = 10
RECOVERY_SECONDS = 30
# While a service is down its callers get 504 (no reply within RPC_TIMEOUT) or
# 503 (its circuit open); never a 500.
DOWNTIME_STATUSES = {200, 201, 409, 503, 504}


def _duplicates_ignored(shop):
    """Redelivered events that a handler found it had already applied."""
    return sum(
        p.log_path.read_text(errors="replace").count("ignoring duplicate event")
        for p in shop.processes
    )


def test_each_service_killed_mid_load_and_restarted_loses_nothing_and_applies_nothing_twice(
    scenario,
):
    scenario.start()
    shop = scenario.shop
    kills = scenario.figures["kills"] = {}

    def kill_each_service_then_restart_it():
        for service in ("orders", "inventory", "users"):
            process = shop.process(f"{service}-0")
            busy = inject.when_busy(process)
            killed = time.monotonic()
            process.signal(signal.SIGKILL)
            assert process.wait(timeout=5) == -signal.SIGKILL
            shop.restart(process)
            shop.wait_ready()
            kills[service] = {
                "workers_in_flight": busy,
                "down_s": round(time.monotonic() - killed, 1),
            }
            time.sleep(1)  # traffic through the restarted service before the next kill

    scenario.run(kill_each_service_then_restart_it, after=5)
    scenario.figures["redelivered"] = inject.redeliveries(scenario.amqp_uri)
    scenario.figures["duplicates_ignored"] = _duplicates_ignored(shop)
    report = scenario.verify(settle_timeout=RECOVERY_SECONDS)

    assert set(report["requests"]["fault"]) <= DOWNTIME_STATUSES, report
    assert report["first_order_after_fault_s"] <= RECOVERY_SECONDS, report


@pytest.mark.parametrize("service", ["orders", "users"])
def test_a_service_stopped_by_sigterm_mid_load_finishes_its_workers_and_exits_0(scenario, service):
    scenario.start()
    shop = scenario.shop
    process = shop.process(f"{service}-0")
    stop = scenario.figures["stop"] = {}

    def terminate_then_restart():
        stop["workers_in_flight"] = inject.when_busy(process)
        terminated = time.monotonic()
        process.signal(signal.SIGTERM)
        try:
            stop["exit_code"] = process.wait(timeout=3 * GRACE_SECONDS)
        except Exception:
            process.popen.kill()  # so the run goes on; the assertion below reports it
            stop["exit_code"] = "still running"
        stop["exit_s"] = round(time.monotonic() - terminated, 2)
        shop.restart(process)
        shop.wait_ready()

    scenario.run(terminate_then_restart, after=5)
    scenario.figures["redelivered"] = inject.redeliveries(scenario.amqp_uri)
    scenario.figures["duplicates_ignored"] = _duplicates_ignored(shop)
    report = scenario.verify(settle_timeout=RECOVERY_SECONDS)

    assert stop["exit_code"] == 0, (stop, process.log_tail())
    assert stop["exit_s"] < GRACE_SECONDS, stop
    assert set(report["requests"]["fault"]) <= DOWNTIME_STATUSES, report
    assert report["first_order_after_fault_s"] <= RECOVERY_SECONDS, report
