"""Kill the process at every step of each destructive operation, resume, and check.

The steps are not listed here; the test finds them. One uninterrupted run of the operation
records the named crash points it passes (archive.faults, KEEPSAKE_CRASH_RECORD) and,
between them, its durable effects: commits, file writes and file deletions
(tests/crash/steps.py). Then, each time on fresh assets, a forked child runs the
operation and dies (os._exit, as with SIGKILL):

- at each named point (KEEPSAKE_CRASH_AT);
- right after each durable effect no named point already stops at;
- half way through each file write (a torn write, as a power cut leaves it).

A later process runs the resumers, and the archive must be whole: every live pointer
names bytes with its SHA-256, published bytes stay held, no file that nothing accounts
for, no move left half done, the audit chain verifies (and tests/invariants.py, when
present). A retry then completes the operation and the archive is whole again.
"""

import pytest

from tests.crash.cases import CASES
from tests.crash.driver import trace_discover


@pytest.mark.parametrize("name", list(CASES))
def test_a_crash_at_any_step_loses_nothing(name):
    case = CASES[name]
    trace = trace_discover(case)
    assert trace.problems == [], f"{name}, uninterrupted: {trace.problems}"
    assert trace.effects, f"{name} made no durable change"

    found = {crash.label: crash.recover(case) for crash in trace.plan()}

    assert {label: p for label, p in found.items() if p} == {}, (
        f"{name}: named points {trace.points or 'none yet'}; effects {trace.effects}"
    )
