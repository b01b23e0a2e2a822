"""The API contract, checked as an outside integrator would: Schemathesis against the live schema.

For each role (as `setup_roles` makes them) Schemathesis runs over every operation of the
live schema that role is granted, with every check (`-c all`), all four phases (examples,
coverage, fuzzing and the stateful phase that follows the schema's `links`), a bounded
number of examples per operation, and every warning made fatal: an operation answered
only 401/403, only 404 or only validation errors for every valid input counts as a
failure, so each operation must really be exercised. Path ids point at real objects
(an uploaded asset, an open pair, a consolidation, a hold...), built through the services.

Operations come from the schema, not from a list here: a new endpoint is covered by
whichever roles its `required_permissions` grant, and an endpoint no role is granted fails
the coverage test below.
"""

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from tests.api.conftest import ROLES

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = int(os.environ.get("KEEPSAKE_CONTRACT_EXAMPLES", "5"))
METHODS = ("get", "put", "post", "patch", "delete")


def live_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) for every operation of the schema the API serves."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        operation["operationId"]: (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def granted(user, method: str, path: str) -> bool:
    """Whether the view's `required_permissions` let this user call the operation."""
    view = resolve(re.sub(r"\{[^}]+\}", "1", path)).func.view_class
    needed = view.required_permissions.get(method.upper())
    return needed is not None and user.has_perms(needed)


def real_ids(world) -> dict[str, int]:
    """An existing object for each path prefix with an id (the longest prefix wins)."""
    return {
        "/api/v1/assets/": world.pending.asset_a_id,
        "/api/v1/candidates/": world.pending.pk,
        "/api/v1/consolidations/": world.consolidation.pk,
        "/api/v1/dispositions/": world.to_approve.pk,
        "/api/v1/dispositions/{id}/execute/": world.to_execute.pk,
        "/api/v1/collections/": world.entry.collection_id,
        "/api/v1/entries/": world.entry.pk,
        "/api/v1/holds/": world.hold.pk,
        "/api/v1/intake/": world.intake.pk,
        "/api/v1/licences/": world.licence.pk,
        "/api/v1/quarantine/": world.quarantine.pk,
        **{prefix: pk for prefix, pk in world.extra_ids.items()},
    }


def existing_id(path: str) -> int | None:
    """Any object of the model the list beside `path` shows (for endpoints added later)."""
    listing = path.split("{id}")[0]
    try:
        view = resolve(listing).func.view_class
    except Resolver404:
        return None
    queryset = getattr(view, "queryset", None)
    if queryset is None:
        return None
    return queryset.model.objects.order_by("pk").values_list("pk", flat=True).first()


def id_for(path: str, ids: dict[str, int]) -> int | None:
    matches = [prefix for prefix in ids if path.startswith(prefix.split("{id}")[0])]
    exact = [prefix for prefix in matches if "{id}" in prefix and path == prefix]
    chosen = exact or sorted((p for p in matches if "{id}" not in p), key=len)[-1:]
    return ids[chosen[0]] if chosen else existing_id(path)


# Schemathesis' default answers to a schema-valid request, and per operation the further
# documented refusals of what no schema can express.
ACCEPTED = ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx")
NOT_SCHEMA_EXPRESSIBLE = {"assets_create": ("422",)}
# Operations whose generated bodies tests/api/contract_hooks.py makes realistic (an
# upload's file becomes a real picture). The coverage phase builds its boundary cases
# without hooks, so there every upload would be bytes no decoder reads and the run would
# only meet the refusal; examples, fuzzing and the stateful phase exercise it with pictures.
HOOKED_BODIES = {"assets_create"}


def config_toml(operations, allowed: set[str], ids: dict[str, int], covered: set[str]) -> str:
    """Schemathesis' configuration for one role's run.

    The coverage phase (every boundary and type the schema allows, unbounded by
    max-examples) runs for each operation once, in the run of the first role granted it
    (`covered` are those covered by an earlier role); examples, fuzzing and the stateful
    phase run for every role.
    """
    lines = [
        "seed = 1",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        'database = "none"',
        "[warnings]",
        "fail-on = true",
        "[phases.stateful]",
        "max-steps = 20",
    ]
    for operation_id, (_method, path) in sorted(operations.items()):
        head = ["[[operations]]", f'include-operation-id = "{operation_id}"']
        if operation_id not in allowed:
            lines += [*head, "enabled = false"]
            continue
        settings = []
        if operation_id in NOT_SCHEMA_EXPRESSIBLE:
            # A rule the schema cannot state (e.g. "bytes Pillow can decode"): its
            # documented refusal counts as an answer to a schema-valid request.
            statuses = ", ".join(
                f'"{s}"' for s in (*ACCEPTED, *NOT_SCHEMA_EXPRESSIBLE[operation_id])
            )
            settings.append(f"checks.positive_data_acceptance.expected-statuses = [{statuses}]")
        if "{id}" in path and (pk := id_for(path, ids)) is not None:
            settings.append(f"parameters = {{ id = {pk} }}")
        if operation_id in covered or operation_id in HOOKED_BODIES:
            settings.append("phases.coverage.enabled = false")
        if operation_id in HOOKED_BODIES:
            # In multipart/form-data every value is text: a field "of the wrong type" is
            # sent as its JSON text, a valid string, so with a real picture the upload is
            # rightly accepted. Rejection of what a form can express is tested in tests/api.
            settings.append("checks.negative_data_rejection.enabled = false")
        if settings:
            lines += [*head, *settings]
    return "\n".join(lines) + "\n"


def run_schemathesis(url: str, token: str, config: Path, report: Path) -> tuple[int, str]:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{url}/api/v1/schema/",
        # Every check runs: the configuration enables them all by default, and a command
        # line `--checks all` would override the per-operation exceptions in config_toml.
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--workers",
        "1",
        "--header",
        f"Authorization: Token {token}",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.contract_hooks",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=600, check=False, env=env
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def world(world, members, tmp_path):
    """The API fixtures' world, and a published release (its list is empty otherwise)."""
    from archive.models import Collection
    from dedup.releases.services import dataset_release
    from retention.campaigns import campaign_save
    from retention.models import Campaign

    release = dataset_release(
        collections=[Collection.objects.get(name="Field photos")],
        output=tmp_path / "release",
        actor=members["Archivist"],
    )
    campaign = campaign_save(
        campaign=Campaign(
            name="Permits 2026",
            owner=members["Compliance"],
            starts_on=date(2026, 1, 1),
            deadline=date(2026, 12, 31),
        ),
        collections=[Collection.objects.get(name="Field photos")],
        actor=get_user_model().objects.create_superuser("planner"),
    )
    world.extra_ids = {
        "/api/v1/releases/": release.pk,
        "/api/v1/campaigns/": campaign.pk,
        "/api/v1/certificates/": _destruction_certified(members),
    }
    return world


def _destruction_certified(members) -> int:
    """A copy consolidated away, its disposition approved and executed: one certificate."""
    from django.test import TestCase

    from archive.models import Collection
    from dedup.review import Decision, candidate_decide
    from retention.models import DestructionCertificate
    from retention.purge import (
        disposition_execute,
        disposition_request_approve,
        disposition_request_create,
    )
    from tests.api.conftest import candidate_of, upload_pair
    from tests.retention.conftest import window_closed

    kept, copy = upload_pair(Collection.objects.get(name="Field photos"), 309)
    candidate_decide(
        candidate=candidate_of(kept, copy),
        decision=Decision.CONFIRM,
        canonical=kept,
        actor=members["Archivist"],
    )
    request = disposition_request_create(
        assets=[copy], reason="duplicate", actor=members["Archivist"]
    )
    disposition_request_approve(request=request, actor=members["Compliance"])
    window_closed(copy)
    with TestCase.captureOnCommitCallbacks(execute=True):
        disposition_execute(request=request, actor=members["Compliance"])
    return DestructionCertificate.objects.latest("pk").pk


def test_every_operation_is_granted_to_some_role(members):
    operations = live_operations()

    orphans = [
        operation_id
        for operation_id, (method, path) in operations.items()
        if not any(granted(user, method, path) for user in members.values())
    ]

    assert operations and orphans == []


@pytest.mark.parametrize("role", ROLES)
def test_the_api_keeps_its_contract(role, live_server, members, world, tmp_path):
    user = members[role]
    operations = live_operations()
    allowed = {op for op, (method, path) in operations.items() if granted(user, method, path)}
    earlier = [members[other] for other in ROLES[: ROLES.index(role)]]
    covered = {
        op
        for op, (method, path) in operations.items()
        if any(granted(u, method, path) for u in earlier)
    }
    config = tmp_path / "schemathesis.toml"
    toml = config_toml(operations, allowed, real_ids(world), covered)
    config.write_text(toml, encoding="utf-8")
    token = Token.objects.create(user=user).key
    report = tmp_path / "report.json"

    status, output = run_schemathesis(live_server.url, token, config, report)

    artifacts = Path(os.environ.get("KEEPSAKE_TEST_ARTIFACTS", "var/test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"contract-{role}.txt").write_text(output, encoding="utf-8")
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-6000:]
    print(f"== {role}: {len(allowed)} operations\n{summary}")  # noqa: T201
    assert allowed, f"{role} is granted no operation"
    assert status == 0, output[-20000:]
