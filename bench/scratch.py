"""A scratch PostgreSQL database for benchmarks, next to the one in DATABASE_URL."""

import dj_database_url
import psycopg


def scratch_database(url: str, *, suffix: str, reuse: bool) -> str:
    """Create (or, with reuse, keep) <db>_<suffix> and return its URL."""
    config = dj_database_url.parse(url)
    name = f"{config['NAME']}_{suffix}"
    admin = psycopg.connect(
        host=config["HOST"],
        port=config["PORT"],
        user=config["USER"],
        password=config["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if not (reuse and exists):
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return url.rsplit("/", 1)[0] + "/" + name
