"""The helpers that tell which series a query reads and which a /metrics page exports."""

from tests.unit.deploy.promql import series_exported, series_read


def test_a_query_reads_its_series_not_its_functions_labels_strings_or_keywords():
    expression = (
        'histogram_quantile(0.99, sum by (route, le) (rate(a_bucket{route!~"/x|y"}[5m])))'
        ' > 1 and on (route) b offset 5m or label_replace(absent(c), "service", "d", "", "")'
    )

    assert series_read(expression) == {"a_bucket", "b", "c"}


def test_a_family_declared_before_its_first_sample_exports_its_series():
    exposition = (
        "# HELP calls_total Calls.\n# TYPE calls_total counter\n"
        "# HELP took_seconds Time.\n# TYPE took_seconds histogram\n"
        "# HELP waiting Waiting.\n# TYPE waiting gauge\n"
        'waiting{queue="q"} 2.0\n'
    )

    assert series_exported(exposition) == {
        "calls_total",
        "calls_created",
        "took_seconds_bucket",
        "took_seconds_count",
        "took_seconds_sum",
        "took_seconds_created",
        "waiting",
    }
