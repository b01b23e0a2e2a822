"""Named crash points, so tests can kill a process at every step of a destructive path.

Services call `crash_point("move.copied")` between steps. Normally that does nothing. A
test runs the operation in a subprocess with `KEEPSAKE_CRASH_AT=move.copied`, and the
process dies there as if the power failed (`os._exit`, no cleanup, no commit); another
run then resumes and the test checks that nothing was lost. With
`KEEPSAKE_CRASH_RECORD=/path` every point passed is appended to that file, which is how
a test learns the steps of an operation before crashing at each of them.
"""

import os

CRASH_EXIT_CODE = 137


def crash_point(name: str) -> None:
    """Die here when the environment asks for it (tests only); otherwise do nothing."""
    record = os.environ.get("KEEPSAKE_CRASH_RECORD")
    if record:
        with open(record, "a", encoding="utf-8") as fp:
            fp.write(name + "\n")
    if os.environ.get("KEEPSAKE_CRASH_AT") == name:
        os._exit(CRASH_EXIT_CODE)
