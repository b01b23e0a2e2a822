"""The rehearsal's CPU accounting (bench/rehearsal.py, figure 4): which process group used
how much CPU between two snapshots of /proc. The figure's conclusion (how much more work
more workers can get out of the machine) rests on it, so it is checked on made-up process
tables with hypothesis as well as on this machine's own processes."""

import multiprocessing
import os
import sys
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import rehearsal  # noqa: E402


def _cluster(pid: int) -> str:
    return "cluster"


def test_a_tree_is_counted_under_its_root_and_backends_as_the_database():
    before = {1: (0, "init", 5.0), 10: (1, "python", 1.0), 11: (10, "python", 2.0)}
    after = {
        1: (0, "init", 5.0),
        10: (1, "python", 1.5),  # the cluster itself: +0.5
        11: (10, "python", 4.0),  # a child of the cluster: +2.0
        12: (11, "python", 0.25),  # born meanwhile, a grandchild: all of it
        20: (1, "postgres", 3.0),  # a backend born meanwhile
        30: (1, "redis-server", 0.5),
    }
    used = rehearsal.cpu_by_group(before, after, {"workers": 10, "broker": 30}, _cluster)
    assert used["cluster"] == 2.75
    assert used["database"] == 3.0
    assert used["broker"] == 0.5
    assert used["other"] == 0.0
    assert sum(used.values()) == 6.25


@given(
    parents=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=30),
    spent=st.lists(st.floats(min_value=0, max_value=100), min_size=30, max_size=30),
    root=st.integers(min_value=1, max_value=30),
)
def test_every_second_used_is_counted_once(parents, spent, root):
    # A random forest of processes (parents point to lower pids, so no cycles).
    after = {}
    for index, parent in enumerate(parents, start=1):
        after[index] = (
            min(parent, index - 1),
            "postgres" if index % 3 == 0 else "x",
            spent[index - 1],
        )
    used = rehearsal.cpu_by_group({}, after, {"workers": root}, _cluster)
    assert abs(sum(used.values()) - sum(seconds for *_, seconds in after.values())) < 1e-6
    in_tree = set()
    for pid in after:
        up = pid
        while up in after:
            if up == root:
                in_tree.add(pid)
                break
            up = after[up][0]
    assert abs(used["cluster"] - sum(after[pid][2] for pid in in_tree)) < 1e-6


def _busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_busy_child_shows_in_the_snapshots_of_this_machine():
    ctx = multiprocessing.get_context("fork")
    before = rehearsal.processes_cpu()
    busy0 = rehearsal.machine_busy_s()
    child = ctx.Process(target=_busy, args=(0.5,))
    child.start()
    pid = child.pid
    while True:
        after = rehearsal.processes_cpu()
        if after.get(pid, (0, "", 0.0))[2] >= 0.4 or not child.is_alive():
            break
        time.sleep(0.02)
    child.join()
    assert pid in after and after[pid][0] == os.getpid()
    used = rehearsal.cpu_by_group(before, after, {"workers": os.getpid()}, _cluster)
    assert used["cluster"] >= 0.4  # this test process and its child, at least the child's
    assert rehearsal.machine_busy_s()[0] - busy0[0] >= 0.4


def test_django_q2_roles_are_read_from_process_titles(tmp_path, monkeypatch):
    titles = {
        101: "qcluster Process-1:3 monitor",
        102: "qcluster Process-1:2 pusher",
        103: "qcluster Process-1:4 idle",
        104: "qcluster Process-1:5 processing uncle-bob 'rehearsal.decide_task'",
        105: "qcluster Process-1 2f0c keepsake",
        106: "/usr/bin/python manage.py qcluster",
    }
    real = Path

    def fake(path, *rest):
        text = str(path)
        for pid, title in titles.items():
            if text == f"/proc/{pid}/cmdline":
                target = tmp_path / str(pid)
                target.write_bytes(title.replace(" ", "\0").encode() + b"\0")
                return target
        return real(path, *rest)

    monkeypatch.setattr(rehearsal, "Path", fake)
    roles = {pid: rehearsal._cluster_role(pid) for pid in titles}
    assert roles == {
        101: "monitor",
        102: "pusher",
        103: "workers",
        104: "workers",
        105: "cluster",
        106: "cluster",
    }
    assert rehearsal._cluster_role(999_999_999) == "cluster"  # no such process
