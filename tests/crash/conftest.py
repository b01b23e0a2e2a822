"""Crash tests fork children that must see committed rows: PostgreSQL, transactional."""

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def crash_database(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip(
            "crash tests fork processes that share the test database; SQLite's is in memory"
        )
    from retention.policies import policies_seed_defaults

    policies_seed_defaults()
