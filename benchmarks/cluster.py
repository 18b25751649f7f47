"""Embedding on a Dask cluster: one process against a LocalCluster of 1 and 2 workers.

The objects are the first N sources of the survey map of ``benchmarks/scale.py`` (written
under ``.bench/scale/`` when missing), cut while read from the map by their catalogue at
48 px, the path of ``morphospace embed RUN MAP --catalog CAT``. The model is the default
network, trained for one epoch on 2,000 of them (speed only). Side by side, in one run:

- one process on one core (``--workers 1``), and on every core (the default);
- ``--cluster`` with a ``LocalCluster`` of 1 worker process, then of 2, each of one
  thread: the workers load the model once each, embed their partitions and write their
  shards; the cluster is started before the clock starts, and its start is printed apart;
- the scheduling overhead: the round trip of a task that does nothing, and the cost of a
  partition beyond its objects (the 1-worker cluster against one process on one core).

The embeddings of every cluster run are checked equal to one process's, row for row. The
last lines work out, from the measured per-worker rate and overheads, how long a survey
takes on N machines.

    python benchmarks/cluster.py [--n 20000] [--partition-rows 2500]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from distributed import Client, LocalCluster

from morphospace.config import validate_settings
from morphospace.embed import EmbeddingTable
from morphospace.embed.options import EmbedOptions
from morphospace.io.cutouts import CatalogueCut
from morphospace.pipeline import embed_run
from morphospace.train import Trainer
from scale import make

WORK = Path(".bench/cluster")


def noop(x: int) -> int:
    return x


def peak_memory() -> int:
    """The peak resident memory of this (worker) process, in bytes: its own high-water
    mark (``ru_maxrss`` would carry that of the process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def sources(n: int) -> tuple[Path, Path]:
    """The stack of n objects cut while read, and of 2,000 for training."""
    field, catalogue = make(n, Path(".bench/scale"))
    stack = CatalogueCut(catalogue, size="48px").stack(field, WORK / "sources")
    small = make(2_000, Path(".bench/scale"))[1]
    return stack, CatalogueCut(small, size="48px").stack(field, WORK / "sources")


def trained(training: Path) -> Path:
    run = WORK / "run"
    if not (run / "model.json").exists():
        settings = validate_settings({"data": {"sources": [str(training)]}, "train": {"epochs": 1}})
        Trainer(settings, run, progress=False).fit()
    return run


def embed(run: Path, stack: Path, name: str, options: EmbedOptions) -> tuple[float, np.ndarray]:
    out = WORK / f"{name}.parquet"
    if out.is_dir():
        shutil.rmtree(out)
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    embed_run(run, [str(stack)], out, options=options)
    seconds = time.perf_counter() - start
    return seconds, EmbeddingTable.read(out).embeddings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--partition-rows", type=int, default=2_500)
    args = parser.parse_args()
    n, rows = args.n, args.partition_rows
    WORK.mkdir(parents=True, exist_ok=True)
    stack, training = sources(n)
    run = trained(training)
    partitions = -(-n // rows)
    print(f"{n:,} objects of 48 px cut while read from a map; the default network with test-"
          f"time averaging; {partitions} partitions of {rows:,}", flush=True)  # fmt: skip

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core, as each worker process of the cluster has
    one_core, reference = embed(run, stack, "one-core", EmbedOptions(workers=1))
    torch.set_num_threads(threads)
    print(f"one process, 1 core           {n / one_core:8.1f} objects/s  ({one_core:.1f} s)",
          flush=True)  # fmt: skip
    every_core, _ = embed(run, stack, "every-core", EmbedOptions())
    print(f"one process, every core       {n / every_core:8.1f} objects/s  ({every_core:.1f} s)",
          flush=True)  # fmt: skip
    cold, warm = {}, {}
    for workers in (1, 2):
        started = time.perf_counter()
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:  # fmt: skip
            ready = time.perf_counter() - started
            if workers == 1:
                client.gather(client.map(noop, range(20)))  # warm
                start = time.perf_counter()
                client.gather(client.map(noop, range(1_000)))
                round_trip = (time.perf_counter() - start) / 1_000
            options = EmbedOptions(cluster=cluster.scheduler_address, partition_rows=rows)
            # first the workers import torch and load the model; then they have them
            cold[workers], vectors = embed(run, stack, f"cluster-{workers}", options)
            warm[workers], again = embed(run, stack, f"cluster-{workers}", options)
            peak = max(client.run(peak_memory).values())
        same = max(np.abs(vectors - reference).max(), np.abs(again - reference).max())
        print(f"LocalCluster of {workers} worker{'s' if workers > 1 else ' '}  "
              f"{n / warm[workers]:8.1f} objects/s  ({warm[workers]:.1f} s with the model "
              f"loaded, {cold[workers]:.1f} s the first time; cluster up in {ready:.1f} s; "
              f"largest difference from one process {same:.1e}; peak memory of a worker "
              f"{peak / 2**30:.2f} GiB)", flush=True)  # fmt: skip
        assert same <= 1e-5
    start_up = cold[1] - warm[1]
    per_partition = (warm[1] - one_core) / partitions
    print(f"ratio LocalCluster of 2 / one process on every core: {every_core / warm[2]:.2f}x")
    print(f"ratio LocalCluster of 2 / of 1 worker:               {warm[1] / warm[2]:.2f}x")
    print(f"ratio LocalCluster of 1 / one process on one core:   {one_core / warm[1]:.2f}x")
    print(f"scheduling: a task that does nothing {round_trip * 1e3:.2f} ms; a partition's cost "
          f"beyond its objects {per_partition:.2f} s (shard write, scheduling), "
          f"{per_partition / (warm[1] / partitions) * 100:.1f} % of a partition; a worker's "
          f"start (torch, the model) {start_up:.1f} s, once")  # fmt: skip

    worker_rate = n / warm[1]  # objects/s of one worker process, partitions and all
    efficiency = warm[1] / warm[2] / 2  # of two workers sharing one machine
    print(f"\nper worker process (one core): {worker_rate:.0f} objects/s; two on one machine "
          f"keep {efficiency * 100:.0f} % of that each")  # fmt: skip
    total = 10**7
    for machines, cores in ((1, 16), (10, 16), (100, 16)):
        workers = machines * cores
        rate = workers * worker_rate * efficiency
        minutes = (total / rate + start_up) / 60
        print(f"  {machines:>3} machines of {cores} cores ({workers:>4} workers): "
              f"{rate:>9,.0f} objects/s, 10^7 objects in {minutes:6.1f} min "
              f"({-(-total // rows) / workers:,.0f} partitions of {rows:,} a worker)")  # fmt: skip
    print(f"  (the rate of a worker and the share kept beside another, as measured here, "
          f"and one start of {start_up:.0f} s; the scheduler's own {round_trip * 1e3:.1f} ms "
          f"a task is {round_trip / (rows / worker_rate) * 100:.3f} % of a partition, so the "
          "limit past this is the shared file system that serves the map and takes the "
          "shards, not the scheduling)")  # fmt: skip


if __name__ == "__main__":
    main()
