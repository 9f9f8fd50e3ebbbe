"""The series names PromQL queries read, and the names a ``/metrics`` page exports."""

import re

from prometheus_client.parser import text_string_to_metric_families

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# A name not followed by "(" (a function or an aggregation's body).
_NAME = re.compile(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\b(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
# The series each kind of metric family exposes, besides its samples' own names.
_SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "unknown": ("",),
}


def series_read(expression):
    """The series names ``expression`` selects (strings, label matchers, ranges and
    grouping labels taken out first, then every name that is not a function or keyword)."""
    for pattern in (_STRINGS, _MATCHERS, _RANGES, _LABEL_LISTS):
        expression = pattern.sub(" ", expression)
    return {name for name in _NAME.findall(expression) if name not in _KEYWORDS}


def series_exported(exposition):
    """Every series name a Prometheus text exposition offers: the samples it has, and
    those its families declare (``# TYPE``) even before their first labelled sample."""
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in _SERIES_SUFFIXES.get(family.type, ("",)))
    return names
