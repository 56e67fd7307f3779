"""Run a call that must return, failing rather than hanging the suite if it never
does."""

import threading


def bounded(function, seconds=120):
    """`function()`, run on a daemon thread; fails if it has not returned in `seconds`.

    A regression that loops forever then fails its test instead of hanging CI.
    The generous bound is a hang guard, not a speed assertion. An exception
    raised by `function` is re-raised here, in the test's thread.
    """
    out, errors = [], []

    def run():
        try:
            out.append(function())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"hung: never returned within {seconds} s"
    if errors:
        raise errors[0]
    return out[0]
