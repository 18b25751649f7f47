"""Sharing work between this process and forked children (the CPU embedding path)."""

from __future__ import annotations

import gc
import os
import time

import pytest
import torch

from morphospace.errors import InputError
from morphospace.forkshare import can_fork, fork_map

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs the fork start method")


def no_children_left() -> bool:
    # WNOWAIT: look without reaping, so that fork_map's own reaper finds its children
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return False


def wait_for_no_children(seconds: float = 5.0) -> bool:
    """The children of a successful call are reaped in the background: give them time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if no_children_left():
            return True
        time.sleep(0.01)
    return False


def slow_square(item: int) -> tuple[int, int]:
    time.sleep(0.005)  # long enough that every process gets items
    return item * item, os.getpid()


def test_results_come_back_in_order_from_every_process():
    threads, freeze = torch.get_num_threads(), gc.get_freeze_count()
    results = fork_map(slow_square, list(range(60)), 3)
    assert [square for square, _ in results] == [i * i for i in range(60)]
    workers = {pid for _, pid in results}
    assert os.getpid() in workers  # this process works too
    assert len(workers) == 3
    # nothing leaks out: torch threads, the garbage collector, the child processes
    assert torch.get_num_threads() == threads
    assert gc.get_freeze_count() == freeze
    assert wait_for_no_children()


def test_one_process_or_one_item_forks_nothing():
    assert fork_map(slow_square, [3], 4) == [(9, os.getpid())]
    assert {pid for _, pid in fork_map(slow_square, [1, 2, 3], 1)} == {os.getpid()}
    assert fork_map(slow_square, [], 2) == []


def fail_in_a_child(parent: int):
    def function(item: int) -> int:
        if os.getpid() != parent and item >= 5:
            raise InputError(f"file_{item}.fits", "is broken")
        time.sleep(0.01)
        return item

    return function


def test_a_childs_error_is_raised_here_whole_and_stops_the_work():
    items = list(range(400))  # 4 s of work for this process alone, were it not stopped
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"file_\d+\.fits: is broken"):
        fork_map(fail_in_a_child(os.getpid()), items, 2)
    assert time.perf_counter() - start < 2.0
    assert no_children_left()  # stopped and reaped before the error reached us
    assert gc.get_freeze_count() == 0


def test_an_error_here_stops_and_reaps_the_children():
    parent = os.getpid()

    def function(item: int) -> int:
        if os.getpid() == parent:
            raise ValueError("no good here")
        time.sleep(0.01)
        return item

    with pytest.raises(ValueError, match="no good here"):
        fork_map(function, list(range(200)), 3)
    assert no_children_left()


def test_a_child_that_dies_is_reported():
    parent = os.getpid()

    def function(item: int) -> int:
        if os.getpid() != parent:
            os._exit(3)  # as if killed: no results, no error
        time.sleep(0.01)
        return item

    with pytest.raises(RuntimeError, match=r"worker process died.*exit status 3"):
        fork_map(function, list(range(50)), 2)
    assert no_children_left()


def test_an_unpicklable_error_still_arrives_described():
    parent = os.getpid()

    class Local(Exception):  # defined in a function: pickle cannot name it
        pass

    def function(item: int) -> int:
        if os.getpid() != parent:
            raise Local("local trouble")
        time.sleep(0.01)
        return item

    with pytest.raises(RuntimeError, match="local trouble"):
        fork_map(function, list(range(50)), 2)
