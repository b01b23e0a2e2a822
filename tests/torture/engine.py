"""Concurrency torture: processes run random mixed operations on a few shared assets.

Each worker is a forked process with its own database session (tests/crash/forked.py)
that, until its time is up, picks a weighted random operation and a random target among
the rows that exist now: confirm a candidate pair, undo a consolidation, place or release
a hold, quarantine, restore, move, request / approve / execute a purge, edit a record,
ingest bytes the archive already holds, resume moves, and the same through the REST API
(Django's test client). Each attempt ends one of four ways:

- ok: it happened;
- refused: a business rule said no (ArchiveError, or a 4xx from the API) - expected,
  the workers collide on purpose;
- deadlock: the database broke a lock cycle or a serialisation conflict and it reached
  the caller (or the API answered 500 for it) - must never happen;
- error: any other exception or a 500 - must never happen.

Afterwards the resumers run and the invariants are checked (tests/crash/checks.py).
"""

import io
import os
import random
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.test import Client

from archive.errors import ArchiveError
from archive.models import Asset, CatalogueEntry, LegalHold
from tests.conftest import image_bytes, make_scene
from tests.crash.cases import people, picture, resumers, window_closed
from tests.crash.checks import violations
from tests.crash.forked import Child

DEADLOCK_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
OUTCOMES = ("ok", "refused", "deadlock", "error")


class NoTarget(Exception):
    """Nothing for this operation to act on right now (not counted as an attempt)."""


@dataclass
class Report:
    processes: int
    seconds: float
    counts: Counter = field(default_factory=Counter)  # (operation, outcome) -> n
    failures: list[dict] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    chain_ok: bool = True
    worker_errors: list[str] = field(default_factory=list)

    def total(self, outcome: str) -> int:
        return sum(n for (_op, out), n in self.counts.items() if out == outcome)

    @property
    def attempts(self) -> int:
        return sum(self.counts.values())

    def table(self) -> str:
        """The figures as a plain-text table."""
        operations = sorted({op for op, _ in self.counts})
        lines = [f"{'operation':<16}" + "".join(f"{o:>10}" for o in OUTCOMES)]
        for op in operations:
            lines.append(f"{op:<16}" + "".join(f"{self.counts[(op, o)]:>10}" for o in OUTCOMES))
        lines.append(f"{'total':<16}" + "".join(f"{self.total(o):>10}" for o in OUTCOMES))
        lines += [
            "",
            f"processes {self.processes}, seconds {self.seconds:.0f}, "
            f"operations {self.attempts}, deadlocks {self.total('deadlock')}, "
            f"errors {self.total('error')}, violations {len(self.violations)}, "
            f"chain ok {self.chain_ok}",
        ]
        return "\n".join(lines)


# --- the shared world -------------------------------------------------------------------


def world_seed(*, pairs: int = 4, singles: int = 2) -> dict:
    """A few originals with smaller copies (flagged pairs) and lone pictures, committed."""
    people()
    for seed in range(pairs):
        picture(seed, published=True)
        picture(seed, size=(160, 120))
    for seed in range(pairs, pairs + singles):
        picture(seed, published=seed % 2 == 0)
    known = [image_bytes(make_scene(seed)) for seed in range(pairs + singles)]
    return {"known_bytes": known}


# --- operations (each picks its own target) ---------------------------------------------


def _pick(rng: random.Random, query) -> int:
    ids = list(query.values_list("pk", flat=True)[:50])
    if not ids:
        raise NoTarget
    return rng.choice(ids)


def _asset(rng, **filters) -> Asset:
    return Asset.objects.get(pk=_pick(rng, Asset.objects.filter(**filters)))


def op_confirm(w):
    from dedup.models import DuplicateCandidate
    from dedup.review import Decision, candidate_decide

    open_ = DuplicateCandidate.objects.filter(status__in=["pending", "deferred"])
    candidate = DuplicateCandidate.objects.get(pk=_pick(w.rng, open_))
    canonical = w.rng.choice([candidate.asset_a, candidate.asset_b])
    candidate_decide(
        candidate=candidate, decision=Decision.CONFIRM, actor=w.alice, canonical=canonical
    )


def op_undo(w):
    from dedup.consolidation import consolidation_undo
    from dedup.models import Consolidation

    consolidation = Consolidation.objects.get(
        pk=_pick(w.rng, Consolidation.objects.filter(undone_at__isnull=True))
    )
    consolidation_undo(consolidation=consolidation, actor=w.alice, reason="torture")


def op_hold(w):
    from archive.holds import legal_hold_place

    if LegalHold.objects.filter(released_at__isnull=True).count() >= 2:
        raise NoTarget  # keep most assets unfrozen, so the other operations have work
    asset = _asset(w.rng, state__in=["active", "quarantined"])
    legal_hold_place(
        matter_reference=f"T-{os.getpid()}-{w.rng.randrange(10**6)}",
        reason="torture",
        assets=[asset],
        actor=w.alice,
    )


def op_release(w):
    from archive.holds import legal_hold_release

    hold = LegalHold.objects.get(pk=_pick(w.rng, LegalHold.objects.filter(released_at=None)))
    legal_hold_release(hold=hold, reason="torture", actor=w.alice)


def op_quarantine(w):
    from retention.services import asset_quarantine

    asset_quarantine(asset=_asset(w.rng, state="active"), reason="torture", actor=w.alice)


def op_restore(w):
    from retention.services import asset_restore

    asset_restore(asset=_asset(w.rng, state="quarantined"), actor=w.alice, reason="torture")


def op_move(w):
    from retention.moves import asset_move

    tier = w.rng.choice([Asset.Tier.HOT, Asset.Tier.COLD])
    asset_move(asset=_asset(w.rng, state="active"), to_alias=tier, actor=w.alice)


def op_purge_request(w):
    from retention.purge import disposition_request_create

    asset = _asset(w.rng, state="quarantined")
    disposition_request_create(assets=[asset], reason="torture", actor=w.alice)


def op_purge_approve(w):
    from retention.models import DispositionRequest
    from retention.purge import disposition_request_approve

    pending = DispositionRequest.objects.filter(approved_at=None, executed_at=None)
    request = DispositionRequest.objects.get(pk=_pick(w.rng, pending))
    disposition_request_approve(request=request, actor=w.bob)


def op_purge_execute(w):
    from retention.models import DispositionRequest
    from retention.purge import disposition_execute

    approved = DispositionRequest.objects.filter(approved_at__isnull=False, executed_at=None)
    request = DispositionRequest.objects.get(pk=_pick(w.rng, approved))
    for item in request.items.all():
        window_closed(item.asset)  # time passes: the restore window is over
    outcomes = disposition_execute(request=request, actor=w.bob)
    if not any(outcome == "purged" for outcome in outcomes.values()):
        raise ArchiveError("; ".join(sorted(set(map(str, outcomes.values())))))


def op_edit(w):
    from archive.services import record_save

    entry = CatalogueEntry.objects.get(pk=_pick(w.rng, CatalogueEntry.objects.all()))
    entry.title = f"title {w.rng.randrange(10**6)}"
    record_save(obj=entry, actor=w.alice, reason="torture")


def op_ingest(w):
    from archive.ingest import asset_ingest
    from archive.services import collection_get_or_create

    w.ingested += 1
    asset_ingest(
        fp=io.BytesIO(w.rng.choice(w.world["known_bytes"])),
        path=f"torture/{os.getpid()}/{w.ingested}.jpg",
        collection=collection_get_or_create(name="Crash tests"),
        published=w.rng.random() < 0.3,
    )


def op_resume(w):
    from retention.moves import moves_resume

    moves_resume()


# --- the same through the API -----------------------------------------------------------


def _api(w, method: str, url: str, data: dict | None = None) -> None:
    response = getattr(w.client, method)(
        f"/api/v1/{url}", data=data or {}, content_type="application/json"
    )
    if response.status_code >= 500:
        raise ServerError(
            f"{method.upper()} {url} answered {response.status_code}: {response.content[:300]!r}"
        )
    if response.status_code >= 400:
        raise ArchiveError(f"{response.status_code}")


class ServerError(Exception):
    """The API answered 5xx."""


def op_api_confirm(w):
    from dedup.models import DuplicateCandidate

    open_ = DuplicateCandidate.objects.filter(status__in=["pending", "deferred"])
    candidate = DuplicateCandidate.objects.get(pk=_pick(w.rng, open_))
    canonical = w.rng.choice([candidate.asset_a_id, candidate.asset_b_id])
    _api(
        w,
        "post",
        f"candidates/{candidate.pk}/decision/",
        {"decision": "confirm", "canonical": canonical},
    )


def op_api_undo(w):
    from dedup.models import Consolidation

    pk = _pick(w.rng, Consolidation.objects.filter(undone_at__isnull=True))
    _api(w, "post", f"consolidations/{pk}/undo/", {"reason": "torture"})


def op_api_hold(w):
    if LegalHold.objects.filter(released_at__isnull=True).count() >= 2:
        raise NoTarget
    asset = _pick(w.rng, Asset.objects.filter(state__in=["active", "quarantined"]))
    _api(
        w,
        "post",
        "holds/",
        {
            "matter_reference": f"API-{os.getpid()}-{w.rng.randrange(10**6)}",
            "reason": "torture",
            "assets": [asset],
        },
    )


def op_api_release(w):
    pk = _pick(w.rng, LegalHold.objects.filter(released_at=None))
    _api(w, "post", f"holds/{pk}/release/", {"reason": "torture"})


def op_api_restore(w):
    from retention.models import QuarantineRecord

    open_ = QuarantineRecord.objects.filter(restored_at=None, purged_at=None)
    _api(w, "post", f"quarantine/{_pick(w.rng, open_)}/restore/", {"reason": "torture"})


def op_api_edit(w):
    pk = _pick(w.rng, CatalogueEntry.objects.all())
    _api(w, "patch", f"entries/{pk}/", {"title": f"api title {w.rng.randrange(10**6)}"})


OPERATIONS = {
    # name: (function, weight)
    "confirm": (op_confirm, 6),
    "undo": (op_undo, 4),
    "hold": (op_hold, 2),
    "release": (op_release, 3),
    "quarantine": (op_quarantine, 4),
    "restore": (op_restore, 4),
    "move": (op_move, 4),
    "purge_request": (op_purge_request, 2),
    "purge_approve": (op_purge_approve, 2),
    "purge_execute": (op_purge_execute, 2),
    "edit": (op_edit, 4),
    "ingest": (op_ingest, 3),
    "resume": (op_resume, 1),
    "api_confirm": (op_api_confirm, 3),
    "api_undo": (op_api_undo, 2),
    "api_hold": (op_api_hold, 1),
    "api_release": (op_api_release, 2),
    "api_restore": (op_api_restore, 2),
    "api_edit": (op_api_edit, 3),
}


# --- workers ----------------------------------------------------------------------------


def _is_deadlock(exc: BaseException) -> bool:
    seen = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) in DEADLOCK_SQLSTATES:
            return True
        if "deadlock detected" in str(seen) or "could not serialize" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class Worker:
    world: dict
    rng: random.Random
    alice: object = None
    bob: object = None
    client: Client | None = None
    ingested: int = 0

    def attempt(self, name: str) -> tuple[str, dict | None]:
        fn, _weight = OPERATIONS[name]
        try:
            fn(self)
        except NoTarget:
            return "", None
        except ArchiveError:
            return "refused", None
        except (DatabaseError, ServerError, Exception) as exc:  # noqa: BLE001 - counted
            outcome = "deadlock" if _is_deadlock(exc) else "error"
            return outcome, {
                "operation": name,
                "outcome": outcome,
                "error": f"{type(exc).__name__}: {exc}"[:500],
                "traceback": traceback.format_exc()[-3000:],
            }
        return "ok", None


def worker_run(world: dict, *, seconds: float, seed: int) -> dict:
    """One worker's loop (run in a forked child): counts by (operation, outcome), failures."""
    users = get_user_model().objects
    worker = Worker(world=world, rng=random.Random(seed))  # noqa: S311 - not security
    worker.alice, worker.bob = users.get(username="alice"), users.get(username="bob")
    worker.client = Client(raise_request_exception=False)
    worker.client.force_login(worker.alice)
    names = list(OPERATIONS)
    weights = [OPERATIONS[n][1] for n in names]
    counts, failures = Counter(), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        name = worker.rng.choices(names, weights)[0]
        outcome, failure = worker.attempt(name)
        if outcome:
            counts[(name, outcome)] += 1
        if failure and len(failures) < 20:
            failures.append(failure)
    return {"counts": counts, "failures": failures}


def torture(*, processes: int, seconds: float, seed: int = 0, world: dict | None = None) -> Report:
    """Seed the world (unless given), run the workers side by side, resume, check."""
    world = world or world_seed()
    children = [
        Child(lambda i=i: worker_run(world, seconds=seconds, seed=seed * 1000 + i))
        for i in range(processes)
    ]
    report = Report(processes=processes, seconds=seconds)
    for child in children:
        result = child.join(timeout=seconds + 120)
        if not result.ok:
            report.worker_errors.append(f"{result.error}\n{result.traceback}")
            continue
        report.counts.update(result.value["counts"])
        report.failures += result.value["failures"]
    resumers()
    report.violations = violations()
    report.chain_ok = not any(v.startswith("audit chain") for v in report.violations)
    return report
