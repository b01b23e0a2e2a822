"""The README's API session runs as written against a demo set up here, and every answer
line it shows matches what the server said: the text cannot drift from the code."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

README = Path(__file__).resolve().parent.parent / "README.md"
ANCHOR = "A session from a field tablet"

pytestmark = [pytest.mark.django_db(transaction=True, reset_sequences=True)]


def session_steps(text: str) -> list[tuple[str, list[str]]]:
    """(command, answer lines) for each command of the README's session block."""
    block = text[text.index(ANCHOR) :].split("```sh\n", 1)[1].split("\n```", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    lines = iter(block.splitlines())
    for line in lines:
        if line.startswith("#"):
            assert steps, f"an answer line before any command: {line}"
            steps[-1][1].append(line.removeprefix("#").strip())
            continue
        command = line
        while command.endswith("\\"):
            command += "\n" + next(lines)
        steps.append((command, []))
    return steps


def answer_pattern(line: str) -> re.Pattern:
    """An answer line as a pattern: spaces ignored, … standing for anything."""
    pieces = ["".join(piece.split()) for piece in line.split("…")]
    return re.compile(".*?".join(re.escape(piece) for piece in pieces), re.S)


def test_the_session_parses_into_commands_with_answers():
    steps = session_steps(README.read_text(encoding="utf-8"))
    assert len(steps) >= 8
    assert sum(1 for _, answers in steps if answers) >= 6
    assert answer_pattern("a … b").search("axxxb") and not answer_pattern("a … b").search("ba")


def test_the_readme_session_runs_against_the_demo(live_server, tmp_path):
    var = tmp_path / "var"
    call_command(
        "demo_setup",
        images=str(var / "demo-images"),
        tokens=str(var / "demo-tokens.sh"),
        stdout=open(os.devnull, "w"),  # noqa: SIM115 - closed with the process
    )
    steps = session_steps(README.read_text(encoding="utf-8"))
    script = ["set -u"]
    for number, (command, _) in enumerate(steps):
        script += [command, f"echo; echo '@@step {number}@@'"]
    env = {**os.environ, "KEEPSAKE_API": f"{live_server.url}/api/v1"}

    done = subprocess.run(  # noqa: S603 - the README's own text, run on purpose
        ["bash", "-c", "\n".join(script)],  # noqa: S607
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    outputs = re.split(r"@@step \d+@@\n?", done.stdout)
    for (command, answers), output in zip(steps, outputs, strict=False):
        flat = "".join(output.split())
        for answer in answers:
            assert answer_pattern(answer).search(flat), (
                f"{command}\nREADME says: {answer}\nthe server said: {output[:2000]}"
            )
