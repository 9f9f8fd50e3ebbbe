"""The rule every extension hook keeps: it never raises into the worker.

A collector, a metrics registry or a log setup that breaks must not fail the
call it observes: the hook logs what failed and the worker carries on.
"""


class carry_on:  # lower case, like contextlib.suppress: ``with carry_on(log, "..."):``
    """Log an exception escaping the block as a warning, with its traceback, and swallow it.

    A class rather than ``@contextmanager``: it wraps every worker's hooks, and
    this costs a fraction of a generator per use.
    """

    __slots__ = ("failure", "log")

    def __init__(self, log, failure):
        self.log = log
        self.failure = failure

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if kind is None or not issubclass(kind, Exception):
            return False
        self.log.warning(self.failure, exc_info=(kind, exc, traceback))
        return True
