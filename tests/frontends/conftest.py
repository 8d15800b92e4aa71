"""The JAX front end's tests run last in a session.

Once JAX has initialized its backend, its thread pools run in the test process and JAX warns (with
reason) at every ``os.fork()``: the gate's ``-j`` tests fork worker processes. Running the tests that
start JAX after every other test keeps those forks free of JAX's threads.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    starts_jax = [it for it in items if it.nodeid.startswith("tests/frontends/test_jax.py")]
    if starts_jax:
        items[:] = [it for it in items if it not in starts_jax] + starts_jax
