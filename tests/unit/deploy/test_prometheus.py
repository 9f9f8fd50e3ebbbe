"""docker/prometheus/: the config and the alert rules, checked by Debian's promtool, and the
alerts' unit tests run by it.

That promtool is built without Consul discovery, so it checks prometheus.yml through a
twin with static targets in place of consul_sd_configs: everything else as it is."""

import yaml

from tests import yaml_files
from tests.unit.deploy.files import PROMETHEUS, promtool, run

CONFIG = PROMETHEUS / "prometheus.yml"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
THE_ISSUES_ALERTS = {
    "ShopTargetDown",  # a service down
    "ShopProcessMissing",
    "ServiceErrorRatioHigh",  # error ratio
    "GatewayErrorRatioHigh",
    "GatewayLatencyOverBudget",  # p99 over budget
    "DeadLettersWaiting",  # DLQ non-empty
    "OutboxBacklogGrowing",  # outbox backlog growing
    "OutboxStuck",
    "OrdersStuckPending",  # orders stuck in pending
}


def _static_twin(workdir):
    """prometheus.yml with each Consul discovery swapped for a static target, and its rule
    files named by absolute path, written into ``workdir``."""
    config = yaml_files.load(CONFIG)
    swapped = 0
    for job in config["scrape_configs"]:
        for discovery in job.pop("consul_sd_configs", []):
            job.setdefault("static_configs", []).append({"targets": ["users:9102"]})
            swapped += discovery["server"] == "consul:8500"
    assert swapped, "compose's Prometheus finds the shop through Consul"
    config["rule_files"] = [str(PROMETHEUS / name) for name in config["rule_files"]]
    twin = workdir / "prometheus.yml"
    twin.write_text(yaml.safe_dump(config))
    return twin


def _rules():
    return [rule for group in yaml_files.load(ALERTS)["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_prometheus_config_with_static_targets_for_consul(tmp_path):
    result = run([promtool(), "check", "config", _static_twin(tmp_path)])

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout + result.stderr


def test_the_config_loads_the_alerts_that_the_unit_tests_test():
    loaded = yaml_files.load(CONFIG)["rule_files"]

    assert loaded == ["alerts.yml"] and (PROMETHEUS / loaded[0]).is_file()
    assert yaml_files.load(ALERT_TESTS)["rule_files"] == loaded


def test_promtool_accepts_the_alert_rules():
    result = run([promtool(), "check", "rules", ALERTS])

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_unit_tests_pass():
    result = run([promtool(), "test", "rules", ALERT_TESTS])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_waits_has_a_severity_says_what_and_why_and_is_shown_to_fire():
    fired = {
        case["alertname"]
        for test in yaml_files.load(ALERT_TESTS)["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    alerts = {rule["alert"]: rule for rule in _rules()}

    assert set(alerts) == THE_ISSUES_ALERTS
    for name, rule in alerts.items():
        assert rule["for"], name
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
    assert fired == set(alerts), set(alerts) - fired
