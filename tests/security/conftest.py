"""The API tests' world and role members, shared with the privilege test."""

from tests.api.conftest import members, world  # noqa: F401
