"""Crash an operation in a child process, resume as a later process would, check, retry.

    prepare (committed) -> child runs the operation and dies at the crash -> a second
    child runs the resumers -> invariants -> if the operation did not take effect, it
    is run again (the user retries) -> resumers -> invariants and the case's own
    expectations.

Each step's problems are collected as text, so one test run reports every crash that
went wrong, not only the first.
"""

import itertools
import os
import tempfile
from dataclasses import dataclass

from archive.errors import ArchiveError
from tests.crash.cases import Case, resumers
from tests.crash.checks import violations
from tests.crash.forked import run_forked
from tests.crash.steps import EFFECT_MARK, durable_steps

# Every preparation draws pictures nobody drew before in this process.
_seeds = itertools.count(1000)


def seed_next() -> int:
    return next(_seeds)


def _child_run(case: Case, ctx: dict, crash_after: int | None, torn: bool):
    def run():
        if crash_after is None:
            return case.run(ctx)
        with durable_steps(crash_after=crash_after, torn=torn):
            return case.run(ctx)

    return run


def _resume(stage: str) -> list[str]:
    result = run_forked(resumers)
    if not result.ok:
        return [f"{stage}: resumers failed: {result.error}\n{result.traceback}"]
    return []


def recover(
    case: Case,
    *,
    env: dict[str, str] | None = None,
    crash_after: int | None = None,
    torn: bool = False,
    must_crash: bool = True,
) -> list[str]:
    """Crash case's operation as asked, resume, retry; every problem found on the way."""
    ctx = case.prepare(seed_next())
    result = run_forked(_child_run(case, ctx, crash_after, torn), env=env)
    problems = []
    if result.exit_code is None:
        problems.append(f"the operation hung: {result.error}")
    elif must_crash and not result.crashed:
        outcome = "finished" if result.ok else f"failed: {result.error}\n{result.traceback}"
        problems.append(f"the child did not crash; it {outcome}")
    problems += _resume("after the crash")
    problems += [f"after resume: {v}" for v in violations()]
    if not case.done(ctx):
        try:
            case.retry(ctx)
        except ArchiveError as exc:
            problems.append(f"the retry was refused: {exc.message}")
        problems += _resume("after the retry")
        problems += [f"after retry: {v}" for v in violations()]
    problems += [f"finished: {p}" for p in case.expect(ctx)]
    return problems


@dataclass(frozen=True)
class Crash:
    """One way to kill the operation: at a named point, or after (or tearing) an effect."""

    label: str
    point: str = ""
    crash_after: int | None = None
    torn: bool = False

    def recover(self, case: Case) -> list[str]:
        env = {"KEEPSAKE_CRASH_AT": self.point} if self.point else None
        return recover(case, env=env, crash_after=self.crash_after, torn=self.torn)


@dataclass(frozen=True)
class Trace:
    """What one uninterrupted run passed: named points and durable effects, interleaved."""

    steps: list[tuple[str, str]]  # ("point", name) or ("effect", description)
    problems: list[str]

    @property
    def points(self) -> list[str]:
        return list(dict.fromkeys(name for kind, name in self.steps if kind == "point"))

    @property
    def effects(self) -> list[str]:
        return [name for kind, name in self.steps if kind == "effect"]

    def plan(self) -> list[Crash]:
        """Every named point, then every durable prefix no named point already leaves."""
        crashes, covered, done = [], set(), 0
        for kind, name in self.steps:
            if kind == "effect":
                done += 1
            elif name not in {c.point for c in crashes}:
                crashes.append(Crash(f"at {name} (after {done} effects)", point=name))
                covered.add(done)
        effects = self.effects
        for k, effect in enumerate(effects, start=1):
            if k < len(effects) and k not in covered:
                crashes.append(Crash(f"after #{k} {effect}", crash_after=k))
            if effect.startswith("write "):
                crashes.append(Crash(f"tearing #{k} {effect}", crash_after=k, torn=True))
        return crashes


def trace_discover(case: Case) -> Trace:
    """Run the operation once, uninterrupted, recording its named points and effects."""
    fd, record = tempfile.mkstemp(prefix="keepsake-crash-trace-")
    os.close(fd)
    try:
        problems = recover(
            case, env={"KEEPSAKE_CRASH_RECORD": record}, crash_after=0, must_crash=False
        )
        with open(record, encoding="utf-8") as fp:
            lines = [line.rstrip("\n") for line in fp if line.strip()]
    finally:
        os.unlink(record)
    steps = [
        ("effect", line[len(EFFECT_MARK) :]) if line.startswith(EFFECT_MARK) else ("point", line)
        for line in lines
    ]
    return Trace(steps=steps, problems=problems)
