"""Gateway benchmarks: ``make bench`` (``python -m bench.run``)."""
