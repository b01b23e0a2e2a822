"""Every admin URL and every API route × every role (as setup_roles makes them) and
anonymous, each answered with the status the tables below say: one request per pair.

The URLs are enumerated from the URL resolver (the admin site's registry and get_urls,
django-q2's, auth's and authtoken's pages included, and the API's routes), so a page or
endpoint nobody put in a table fails the test until someone decides who may use it.
Admin requests are GETs of real objects (the world of tests/api); API requests use an id
that does not exist, because the role check runs before any lookup: a refused role gets
403, an allowed one anything but 401/403 (400, 404, 405, 409 ...) and never a 5xx.
"""

import inspect
import io
import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_q.models import Failure, OrmQ, Success
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from archive.actors import SYSTEM
from archive.licensing import licence_conflict_sign_off, licence_terms_compare
from archive.models import Asset, IngestRejection
from dedup.models import DatasetRelease
from dedup.services import scan_incremental
from retention.fixity import fixity_asset_check
from tests.api.conftest import ROLES, World, token_client

pytestmark = pytest.mark.django_db

ARC, LIC, COM, OPS = "Archivist", "Licensing", "Compliance", "Operator"
ALL = {ARC, LIC, COM, OPS}
ANON = "anonymous"

# --- Admin ---------------------------------------------------------------------------
# Per model: who may see it (list, object, history) and who may add; nobody deletes in
# the admin (services decide what goes), and nobody writes users, groups, tokens or
# background work there.
ADMIN_MODELS = {
    "authtoken.tokenproxy": {"view": set(), "add": set()},
    "auth.user": {"view": set(), "add": set()},
    "auth.group": {"view": set(), "add": set()},
    "archive.collection": {"view": ALL, "add": {OPS}},
    "archive.asset": {"view": ALL, "add": set()},
    "archive.catalogueentry": {"view": {ARC, LIC, COM}, "add": set()},
    "archive.licence": {"view": {ARC, LIC, COM}, "add": {LIC}},
    "archive.legalhold": {"view": {ARC, LIC, COM}, "add": {COM}},
    "archive.licencesignoff": {"view": {LIC, COM}, "add": set()},
    "archive.auditevent": {"view": {COM}, "add": set()},
    "archive.checkpoint": {"view": {COM}, "add": set()},
    "archive.ingestrejection": {"view": {ARC, COM, OPS}, "add": set()},
    "archive.intakeitem": {"view": {ARC, OPS}, "add": set()},
    "dedup.duplicatecandidate": {"view": {ARC, LIC, COM}, "add": set()},
    "dedup.consolidation": {"view": {ARC, COM}, "add": set()},
    "dedup.fingerprint": {"view": {ARC, OPS}, "add": set()},
    "dedup.scanrun": {"view": {ARC, OPS}, "add": set()},
    "dedup.datasetrelease": {"view": {ARC, COM}, "add": set()},
    "retention.quarantinerecord": {"view": {ARC, COM, OPS}, "add": set()},
    "retention.dispositionrequest": {"view": {ARC, COM, OPS}, "add": set()},
    "retention.retentionpolicy": {"view": {ARC, COM, OPS}, "add": {OPS}},
    "retention.pendingmove": {"view": {OPS}, "add": set()},
    "retention.fixitycheck": {"view": {ARC, COM, OPS}, "add": set()},
    "retention.campaign": {"view": {ARC, COM, OPS}, "add": {ARC}},
    "retention.destructioncertificate": {"view": {COM}, "add": set()},
    "django_q.schedule": {"view": {OPS}, "add": set()},
    "django_q.success": {"view": {OPS}, "add": set()},
    "django_q.failure": {"view": {OPS}, "add": set()},
    "django_q.ormq": {"view": {OPS}, "add": set()},
}
# Other admin pages: url name -> (roles answered `ok`, ok, refused); anonymous is sent
# to the login page (302) unless ANON_ADMIN says otherwise.
ADMIN_PAGES = {
    "index": (ALL, 200, 403),
    "login": (ALL, 302, 403),  # signed in already: on to the index
    "logout": (ALL, 405, 405),  # POST only
    "password_change": (ALL, 200, 403),
    "password_change_done": (ALL, 200, 403),
    "jsi18n": (ALL, 200, 403),
    "autocomplete": (set(), 200, 403),  # no field named: refused for everyone
    "view_on_site": (ALL, 404, 404),  # no model has a public page
    "auth_user_password_change": (set(), 200, 403),
    "archive_asset_licences": ({ARC, LIC, COM}, 200, 403),
    "archive_legalhold_release": ({COM}, 200, 403),
    "archive_auditevent_export": ({COM}, 200, 403),
    "archive_checkpoint_public_key": ({COM}, 200, 403),
    "archive_intakeitem_upload": ({OPS}, 200, 403),
    "archive_intakeitem_decide": ({ARC, OPS}, 200, 403),
    "archive_intakeitem_image": ({ARC, OPS}, 200, 403),
    "dedup_duplicatecandidate_compare": ({ARC, LIC, COM}, 200, 403),
    # A redirect to the next pair (or the queue); the page it leads to checks the role.
    "dedup_duplicatecandidate_next": (ALL, 302, 302),
    "dedup_duplicatecandidate_groups": ({ARC, LIC, COM}, 200, 403),
    "dedup_datasetrelease_publish": ({ARC}, 200, 403),
    "dedup_datasetrelease_notice": ({ARC, COM}, 200, 403),
    "retention_dashboard": ({COM, OPS}, 200, 403),
    "retention_dispositionrequest_approve": ({COM}, 200, 403),
    "retention_campaign_progress": ({ARC, COM, OPS}, 200, 403),
    "retention_campaign_options": ({COM, OPS}, 200, 403),
    "retention_options_report": ({COM, OPS}, 200, 403),
    "retention_destructioncertificate_download": ({COM}, 200, 403),
}
ANON_ADMIN = {"login": 200}
# Which app index pages each role sees (those where it holds some permission).
APP_LISTS = {
    "archive": ALL,
    "dedup": ALL,
    "retention": {ARC, COM, OPS},
    "django_q": {OPS},
    "auth": set(),
    "authtoken": set(),
}
MODEL_PAGES = ("changelist", "add", "change", "history", "delete")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def admin_routes() -> dict[str, str]:
    """Every admin URL pattern by name (the catch-all under "")."""
    return {
        pattern.name or "": route
        for route, pattern in _walk(get_resolver().url_patterns)
        if route.startswith("admin/")
    }


def _extras(world, members) -> None:
    """One row of each model the API world lacks, so every object page has an object."""
    comparison = licence_terms_compare(assets=world.conflict)
    sign_off = {"assets": world.conflict, "reason": "same agreement", "actor": members[LIC]}
    if "terms_fingerprint" in inspect.signature(licence_conflict_sign_off).parameters:
        sign_off["terms_fingerprint"] = comparison.terms_fingerprint
    licence_conflict_sign_off(**sign_off)
    scan_incremental(actor=SYSTEM)
    fixity_asset_check(asset=world.entry.asset)
    Token.objects.get_or_create(user=_any_user())
    IngestRejection.objects.create(
        path="broken.jpg", reason="not an image", size=3, collection=world.entry.collection
    )
    call_command("setup_schedules", stdout=io.StringIO())
    call_command("seal_audit", stdout=io.StringIO())
    now = timezone.now()
    for model, ok in ((Success, True), (Failure, False)):
        model.objects.create(
            id=f"{int(ok)}" * 32,
            name="t",
            func="os.getcwd",
            started=now,
            stopped=now,
            success=ok,
        )
    OrmQ.objects.create(key="keepsake", payload="x", lock=now)
    DatasetRelease.objects.create(
        dataset="d", version=1, released_at=now, actor_name="system", output="/nowhere"
    )
    _campaign_and_certificate(world)


def _campaign_and_certificate(world) -> None:
    from retention.campaigns import campaign_save
    from retention.models import Campaign, DestructionCertificate, DispositionRequest

    owner = _any_user()
    today = timezone.localdate()
    campaign = Campaign(name="privileges", owner=owner, starts_on=today, deadline=today)
    campaign_save(campaign=campaign, collections=[world.entry.collection], actor=SYSTEM)
    request = DispositionRequest.objects.order_by(
        "pk"
    ).first() or DispositionRequest.objects.create(reason="privileges")
    # A row only: the page under test serves the stored texts, whatever they say.
    DestructionCertificate.objects.create(
        request=request,
        asset_count=1,
        json_text="{}",
        html_text="<p></p>",
        json_sha256="0" * 64,
        html_sha256="0" * 64,
    )


def _any_user():
    return get_user_model().objects.order_by("pk").first()


def _object_id(label: str) -> int | None:
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    obj = model._default_manager.order_by("pk").first()
    return obj.pk if obj is not None else None


def _fill(route: str, world: World, label: str = "") -> str:
    ids = {
        "object_id": _object_id(label) if label else None,
        "id": _object_id(label) if label else None,
        "pk": _object_id(label) if label else None,
        "content_type_id": ContentType.objects.get_for_model(Asset).pk,
    }
    path = "/" + route
    path = re.sub(r"\^|\$", "", path)
    for name, value in ids.items():
        path = re.sub(rf"<(?:\w+:)?{name}>", str(value), path)
    return path


def admin_requests(world: World) -> list[tuple[str, str, dict]]:
    """(name, url, expected status by identity) for every admin URL."""
    routes = admin_routes()
    by_label = {m._meta.label_lower: m for m in admin.site._registry}
    assert set(by_label) == set(ADMIN_MODELS), "a model admin nobody put in ADMIN_MODELS"
    requests, covered = [], set()
    for label, access in ADMIN_MODELS.items():
        info = label.replace(".", "_")
        for page in MODEL_PAGES:
            name = f"{info}_{page}"
            covered.add(name)
            url = _fill(routes[name], world, label)
            roles = (
                access["add"] if page == "add" else set() if page == "delete" else access["view"]
            )
            expected = {role: 200 if role in roles else 403 for role in ROLES}
            requests.append((name, url, {**expected, ANON: 302}))
    special = {
        "archive_asset_licences": "?ids=" + ",".join(str(a.pk) for a in world.conflict),
        "dedup_duplicatecandidate_compare": "",
        "view_on_site": "",
    }
    for name, (roles, ok, refused) in ADMIN_PAGES.items():
        covered.add(name)
        label = {
            "archive_legalhold_release": "archive.legalhold",
            "auth_user_password_change": "auth.user",
            "view_on_site": "archive.asset",
            "dedup_duplicatecandidate_compare": "dedup.duplicatecandidate",
            "dedup_datasetrelease_notice": "dedup.datasetrelease",
            "archive_intakeitem_decide": "archive.intakeitem",
            "retention_dispositionrequest_approve": "retention.dispositionrequest",
            "archive_intakeitem_image": "archive.intakeitem",
            "retention_campaign_progress": "retention.campaign",
            "retention_campaign_options": "retention.campaign",
            "retention_destructioncertificate_download": "retention.destructioncertificate",
        }.get(name, "")
        url = _fill(routes[name], world, label) + special.get(name, "")
        expected = {role: ok if role in roles else refused for role in ROLES}
        requests.append((name, url, {**expected, ANON: ANON_ADMIN.get(name, 302)}))
    for app, roles in APP_LISTS.items():
        expected = {role: 200 if role in roles else 404 for role in ROLES}
        requests.append(("app_list", f"/admin/{app}/", {**expected, ANON: 302}))
    covered.add("app_list")
    requests.append(("", "/admin/no-such-page/", {**dict.fromkeys(ROLES, 404), ANON: 302}))
    covered.add("")
    assert set(routes) <= covered, f"admin pages nobody reviewed: {set(routes) - covered}"
    return requests


def test_every_admin_url_answers_each_role_as_the_table_says(world, members):
    _extras(world, members)
    for model in admin.site._registry:
        assert model._default_manager.exists(), f"no {model._meta.label} to open"
    clients = {ANON: Client()}
    for role, user in members.items():
        clients[role] = Client()
        clients[role].force_login(user)
    # Role members are staff: the admin's first gate is not what is being tested.
    type(members[ARC]).objects.filter(pk__in=[u.pk for u in members.values()]).update(is_staff=True)

    wrong = []
    for name, url, expected in admin_requests(world):
        for who, status in expected.items():
            got = clients[who].get(url).status_code
            if got != status:
                wrong.append(f"{who:<10} {url:<60} {got} (expected {status}, {name})")

    assert not wrong, "\n".join(wrong)


# --- API ------------------------------------------------------------------------------
# Route name -> method -> the roles that may call it. Anonymous gets 401 everywhere but
# the schema and its docs, which describe the API to anyone (they hold no records).
VIEW_RECORDS = {ARC, LIC, COM}
API = {
    "asset-list": {"GET": ALL, "POST": {OPS}},
    "asset-detail": {"GET": ALL},
    "entry-list": {"GET": VIEW_RECORDS, "POST": {ARC}},
    "entry-detail": {"GET": VIEW_RECORDS, "PATCH": {ARC}},
    "licence-list": {"GET": VIEW_RECORDS, "POST": {LIC}},
    "licence-detail": {"GET": VIEW_RECORDS, "PATCH": {LIC}},
    "licence-compare": {"GET": VIEW_RECORDS},
    "licence-sign-off": {"POST": {LIC}},
    "hold-list": {"GET": VIEW_RECORDS, "POST": {COM}},
    "hold-detail": {"GET": VIEW_RECORDS},
    "hold-release": {"POST": {COM}},
    "intake-list": {"GET": {ARC, OPS}},
    "intake-detail": {"GET": {ARC, OPS}},
    "intake-decision": {"POST": {ARC}},
    "audit-event-list": {"GET": {COM}},
    "audit-export": {"GET": {COM}},
    "audit-export-manifest": {"GET": {COM}},
    "audit-verify": {"GET": {COM}},
    "candidate-list": {"GET": VIEW_RECORDS},
    "candidate-bulk-confirm": {"POST": {ARC}},
    "candidate-group-list": {"GET": VIEW_RECORDS},
    "candidate-group-confirm": {"POST": {ARC}},
    "candidate-detail": {"GET": VIEW_RECORDS},
    "candidate-decision": {"POST": {ARC}},
    "consolidation-list": {"GET": {ARC, COM}},
    "consolidation-detail": {"GET": {ARC, COM}},
    "consolidation-undo": {"POST": {ARC}},
    "release-list": {"GET": {ARC, COM}, "POST": {ARC}},
    "release-detail": {"GET": {ARC, COM}},
    "quarantine-list": {"GET": {ARC, COM, OPS}},
    "quarantine-restore": {"POST": {ARC}},
    "disposition-list": {"GET": {ARC, COM, OPS}, "POST": {ARC}},
    "disposition-detail": {"GET": {ARC, COM, OPS}},
    "disposition-approve": {"POST": {COM}},
    "disposition-execute": {"POST": {COM}},
    "report-duplication": {"GET": VIEW_RECORDS},
    "report-storage": {"GET": {COM, OPS}},
    "campaign-list": {"GET": {ARC, COM, OPS}, "POST": {ARC}},
    "campaign-progress": {"GET": {ARC, COM, OPS}},
    "campaign-options": {"GET": {COM, OPS}},
    "collection-options": {"GET": {COM, OPS}},
    "certificate-detail": {"GET": {COM}},
    "schema": {"GET": ALL},
    "docs": {"GET": ALL},
}
PUBLIC_TO_USERS = {"schema", "docs"}  # also to anonymous
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def api_routes() -> dict[str, tuple[str, type]]:
    routes = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("api/v1/") and pattern.name != "not-found":
            routes[pattern.name] = (route, pattern.callback.view_class)
    return routes


def _api_path(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "999999", route)


def test_every_api_route_is_in_the_table():
    routes = api_routes()

    assert set(routes) == set(API)
    for name, (_, view) in routes.items():
        handled = {m for m in METHODS if hasattr(view, m.lower())}
        assert handled == set(API[name]), name


def test_every_api_route_answers_each_role_as_the_table_says(members):
    clients = {role: token_client(user) for role, user in members.items()}
    clients[ANON] = APIClient()
    wrong = []
    for name, (route, _) in sorted(api_routes().items()):
        for method, roles in API[name].items():
            for who, client in clients.items():
                with transaction.atomic():
                    response = getattr(client, method.lower())(_api_path(route), {}, format="json")
                    if getattr(response, "streaming", False):
                        b"".join(response.streaming_content)
                    transaction.set_rollback(True)
                got = response.status_code
                if who == ANON:
                    ok = got == (200 if name in PUBLIC_TO_USERS else 401)
                elif who in roles:
                    ok = got not in (401, 403) and got < 500
                else:
                    ok = got == 403
                if not ok:
                    wrong.append(f"{who:<10} {method:<6} {route:<45} {got}")

    assert not wrong, "\n".join(wrong)
