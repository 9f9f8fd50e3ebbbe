"""Poll an HTTP resource until it says what we wait for, with a deadline."""

from tests.polling import eventually


def until(fetch, predicate, timeout=20.0):
    """Call ``fetch()`` (a response) until ``predicate(json)`` holds; return that json."""

    def probe():
        response = fetch()
        return response.status_code == 200 and predicate(body := response.json()) and body

    return eventually(probe, timeout=timeout)
