"""A survey-sized set end to end: 100,000 and 1,000,000 objects cut from one map.

Writes once, under ``.bench/scale/``, a synthetic survey map (float32, with a celestial
WCS; 2.3 GB for a million objects) holding compact sources and two-lobed sources on noise,
and a catalogue of their pixel positions. Then, for each size, the first N rows of the
catalogue go through the commands of ``morphospace run``, each a process of its own, at
the defaults (48 px cutouts cut while read, ``epochs = "auto"``):

- read and train: ``morphospace train MAP --catalog CAT --size 48px`` (read: filling the
  training bank; train: the epochs, from ``RUN/logs/epochs.csv``);
- embed: ``morphospace embed RUN MAP --catalog CAT`` (a sharded table past 100,000);
- map, clusters, anomalies: ``morphospace report RUN`` (fitted on a sample past 100,000,
  the page showing a sample);
- search: what ``morphospace similar`` does (open the table, build its index, answer
  1,000 queries), each query against the exact scan, with recall@10; and the recall@10 of
  the HNSW graph that placed the objects outside the fit sample;
- the explorer: ``morphospace explore RUN`` until its URL, then the first paint and a
  lasso of 10,000 points in headless Chromium.

For each stage: the wall time, the peak resident memory of its process tree (the
``ru_maxrss`` that the kernel returns to ``wait4``, which covers the process and every
child it waited for), and the time per object. The ratio against the naive way is printed
where one runs in the same script: the exact scan of every object for each query, and
the map fitted on every object (at 100,000 objects the sampled map is
the whole-table map).

    python benchmarks/scale.py [--sizes 100000 1000000] [--side 48]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from morphospace.choices import FIT_SAMPLE

WORK = Path(".bench/scale")
SPACING = 24  # pixels of map per object: a million objects on a 24,000 px square map
STAMP = 33


# --- the data, made once ------------------------------------------------------------------


def stamps(rng: np.random.Generator, count: int = 64) -> np.ndarray:
    """Compact elliptical sources and two-lobed sources, STAMP px square, peak 1."""
    y, x = np.mgrid[:STAMP, :STAMP] - STAMP // 2
    out = np.empty((count, STAMP, STAMP), np.float32)
    for k in range(count):
        angle = rng.uniform(0, np.pi)
        u = x * np.cos(angle) + y * np.sin(angle)
        v = -x * np.sin(angle) + y * np.cos(angle)
        if k % 2 == 0:  # compact: an elliptical Gaussian
            a, b = rng.uniform(1.5, 4.0), rng.uniform(1.2, 2.5)
            image = np.exp(-0.5 * ((u / a) ** 2 + (v / b) ** 2))
        else:  # two lobes on either side of the centre
            d, s = rng.uniform(5, 11), rng.uniform(1.5, 2.5)
            image = np.exp(-0.5 * (((u - d) / s) ** 2 + (v / s) ** 2))
            image += rng.uniform(0.5, 1.0) * np.exp(-0.5 * (((u + d) / s) ** 2 + (v / s) ** 2))
        out[k] = image / image.max()
    return out


def make(n: int, work: Path) -> tuple[Path, Path]:
    """The map and the catalogue of n objects (written once; smaller sizes take its rows)."""
    from astropy.io import fits
    from astropy.table import Table

    field, catalogue = work / "field.fits", work / f"positions-{n}.fits"
    work.mkdir(parents=True, exist_ok=True)
    if not field.exists():
        started = time.perf_counter()
        side = int(np.ceil(np.sqrt(n) * SPACING))
        rng = np.random.default_rng(0)
        data = rng.standard_normal((side, side), dtype=np.float32)
        templates = stamps(rng)
        x = rng.uniform(STAMP, side - STAMP, n)
        y = rng.uniform(STAMP, side - STAMP, n)
        kind = rng.integers(0, len(templates), n)
        brightness = rng.uniform(5, 30, n).astype(np.float32)
        for i in range(n):
            x0, y0 = int(x[i]) - STAMP // 2, int(y[i]) - STAMP // 2
            data[y0 : y0 + STAMP, x0 : x0 + STAMP] += brightness[i] * templates[kind[i]]
        header = fits.Header()
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
        header["CRVAL1"], header["CRVAL2"] = 150.0, 2.0
        header["CDELT1"], header["CDELT2"] = -1.8 / 3600, 1.8 / 3600
        header["CRPIX1"] = header["CRPIX2"] = (side + 1) / 2
        header["BUNIT"] = "Jy/beam"
        fits.PrimaryHDU(data, header).writeto(work / "field.partial.fits", overwrite=True)
        names = np.char.add("src", np.arange(n).astype("U7"))
        table = Table({"name": names, "x": x.astype(int), "y": y.astype(int), "kind": kind % 2})
        table.write(work / "positions-all.fits", overwrite=True)
        os.replace(work / "field.partial.fits", field)
        print(f"wrote a {side:,} px square map of {n:,} objects in "
              f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    if not catalogue.exists():
        from astropy.table import Table

        every = Table.read(work / "positions-all.fits")
        if len(every) < n:
            raise SystemExit(f"{work} holds {len(every):,} objects: remove it to make {n:,}")
        every[:n].write(catalogue)
    return field, catalogue


# --- one stage, one process tree ----------------------------------------------------------


def tree(pid: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return found


def tree_pss(pid: int, field: str = "Pss") -> int:
    """Bytes resident in a process tree, shared pages shared out (the kernel's PSS; or
    ``Pss_Anon``: without the pages of memory-mapped files, which the kernel can drop)."""
    total = 0
    for p in tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1]) * 1024
    return total


class PeakMemory:
    """The highest sum of PSS over a process tree, sampled every ``every`` seconds in a
    thread (reading a large process's page accounting costs CPU time: at twice a second it
    took an eighth of a core from the stage it measured; memory moves chunk by chunk, over
    seconds)."""

    def __init__(self, pid: int, every: float = 2.0):
        self.pid, self.every, self.peak, self._stop = pid, every, 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, tree_pss(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**30


def timed(command: list[str], log: Path) -> tuple[float, float]:
    """Wall seconds and peak resident GiB of a command's process tree: the larger of the
    kernel's ``ru_maxrss`` for the command and every process it waited for (the largest
    one alone) and the highest sum of PSS over the whole tree, sampled."""
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        memory = PeakMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: see {log}")
    return seconds, max(usage.ru_maxrss / 2**20, memory.stop())  # ru_maxrss: kB


def search(run: Path, queries: int = 1000) -> None:
    """(In its own process) what ``morphospace similar`` and the explorer's "more like
    this" do: open the table, build its search index, answer ``queries`` queries of the 12
    most similar objects, each against the exact scan (a matrix-vector product and a
    partial sort over every object). Then the recall@10 of the HNSW graph through which
    the objects outside the fit sample were placed (a sample of FIT_SAMPLE objects,
    ``queries`` others). Written to RUN/scale-search.json."""
    from morphospace.explore import RunTable
    from morphospace.explore.search import SimilarityIndex, normalise

    started = time.perf_counter()
    table = RunTable.open(run)
    table.index  # noqa: B018 - built on first use
    build = time.perf_counter() - started
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(table), queries, replace=False)
    started = time.perf_counter()
    found = [table.similar(int(q), 12)[0] for q in chosen]
    each = (time.perf_counter() - started) / queries
    vectors = normalise(np.ascontiguousarray(table.vectors, dtype=np.float32))
    started = time.perf_counter()
    exact = []
    for q in chosen:
        scores = vectors @ vectors[q]
        scores[q] = -np.inf  # not itself
        exact.append(np.argpartition(-scores, 11)[:12].copy())  # not a view of all N
    exact_each = (time.perf_counter() - started) / queries
    recall = np.mean([len(set(f[:10]) & set(e[np.argsort(-(vectors[e] @ vectors[q]))][:10])) / 10
                      for f, e, q in zip(found, exact, chosen, strict=True)])  # fmt: skip
    sample = rng.choice(len(table), min(FIT_SAMPLE, len(table) // 2), replace=False)
    others = np.setdiff1d(rng.choice(len(table), 2 * queries, replace=False), sample)[:queries]
    index = SimilarityIndex(vectors[sample], "exact")
    graph, _ = index.query(vectors[others], 10, graph=True)
    truth, _ = index.query(vectors[others], 10, graph=False)
    placed = np.mean([len(set(g) & set(t)) / 10 for g, t in zip(graph, truth, strict=True)])
    found = {"build_seconds": build, "query_ms": each * 1e3, "exact_ms": exact_each * 1e3,
             "recall": recall, "graph_recall": placed}  # fmt: skip
    (run / "scale-search.json").write_text(json.dumps(found))


def explorer(run: Path, log: Path) -> tuple[float, float, dict[str, float]]:
    """``morphospace explore`` served until the page is drawn and a lasso made."""
    from playwright.sync_api import sync_playwright

    from explorer_speed import ARGS, LASSO

    command = [sys.executable, "-m", "morphospace", "explore", str(run), "--no-browser"]
    started = time.perf_counter()
    out = log.open("a")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=out, text=True)
    try:
        url = None
        for line in process.stdout:
            if line.startswith("open http"):
                url = line.split()[1]
                break
        if url is None:
            raise SystemExit(f"morphospace explore printed no URL: see {log}")
        ready = time.perf_counter() - started
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 850})
            begun = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=600_000)
            page.evaluate("() => new Promise(requestAnimationFrame)")
            paint = time.perf_counter() - begun
            lasso, _ = page.evaluate(LASSO, 10_000)
            browser.close()
    finally:
        process.terminate()
        _, _, usage = os.wait4(process.pid, 0)
        out.close()
    seconds = time.perf_counter() - started
    return seconds, usage.ru_maxrss / 2**20, {"ready": ready, "paint": paint, "lasso": lasso}


Stage = tuple[str, float, float, str]  # name, wall seconds, peak GiB, notes


def run_size(n: int, side: int, work: Path, epochs: int | None, resume: bool) -> list[Stage]:
    """Every stage on the first n objects; with ``resume``, the stages recorded by an
    earlier call (in WORK/stages-N.json, written as each stage ends) are not run again."""
    field, catalogue = make(n, work)
    run, log, record = work / f"run-{n}", work / f"log-{n}.txt", work / f"stages-{n}.json"
    done: dict[str, list[Stage]] = (
        json.loads(record.read_text()) if resume and record.exists() else {}
    )
    if not done:
        shutil.rmtree(run, ignore_errors=True)
        log.unlink(missing_ok=True)
    cut = ["--catalog", str(catalogue), "--x-col", "x", "--y-col", "y", "--name-col", "name"]
    cut += ["--size", f"{side}px"]
    ms = [sys.executable, "-m", "morphospace"]

    def train() -> list[Stage]:
        fixed = [] if epochs is None else ["--epochs", str(epochs)]
        seconds, peak = timed([*ms, "train", str(field), *cut, *fixed, "-o", str(run)], log)
        with (run / "logs" / "epochs.csv").open() as handle:
            records = list(csv.DictReader(handle))
        training = sum(float(r["seconds"]) for r in records)
        return [
            ("read (the training bank)", seconds - training, peak, ""),
            ("train", training, peak, f"{len(records)} epochs"),
        ]

    def embed() -> list[Stage]:
        seconds, peak = timed([*ms, "embed", str(run), str(field), *cut], log)
        return [("embed", seconds, peak, "")]

    def report() -> list[Stage]:
        seconds, peak = timed([*ms, "report", str(run)], log)
        whole = "the whole-table map" if n <= FIT_SAMPLE else f"fitted on {FIT_SAMPLE:,}"
        return [("map, clusters, anomalies, page", seconds, peak, whole)]

    def search_all() -> list[Stage]:
        seconds, peak = timed([sys.executable, __file__, "--search", str(run)], log)
        found = json.loads((run / "scale-search.json").read_text())
        ratio = found["exact_ms"] / found["query_ms"]
        notes = (
            f"index built in {found['build_seconds']:.0f} s; a query {found['query_ms']:.0f} ms,"
            f" exact scan {found['exact_ms']:.0f} ms: {ratio:.1f}x, recall@10 "
            f"{found['recall']:.3f}; placing graph recall@10 {found['graph_recall']:.3f}"
        )
        return [("search: open, index, 1,000 queries", seconds, peak, notes)]

    def explore() -> list[Stage]:
        seconds, peak, page = explorer(run, log)
        notes = (f"ready {page['ready']:.1f} s, first paint {page['paint']:.2f} s, "
                 f"lasso {page['lasso']:.0f} ms")  # fmt: skip
        return [("explorer", seconds, peak, notes)]

    stages: list[Stage] = []
    for key, step in (("train", train), ("embed", embed), ("report", report),
                      ("search", search_all), ("explorer", explore)):  # fmt: skip
        if key not in done:
            done[key] = step()
            record.write_text(json.dumps(done))
        stages += [tuple(stage) for stage in done[key]]
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--side", type=int, default=48)
    parser.add_argument("--epochs", type=int, help='fixed epochs (default: "auto")')
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the stages an interrupted call finished (same --work)",
    )
    parser.add_argument(
        "--map-objects",
        type=int,
        default=1_000_000,
        help="objects on the map written once (each size takes its first N)",
    )
    parser.add_argument("--work", type=Path, default=WORK, help="where the data and runs go")
    parser.add_argument("--search", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--watch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.search is not None:
        search(args.search)
        return
    if args.watch is not None:  # the PSS of a running call's tree, a line per child, to stdout
        while Path(f"/proc/{args.watch}").exists():
            children = tree(args.watch)[1:2]
            name = (
                Path(f"/proc/{children[0]}/cmdline").read_bytes().split(b"\0")[3:4]
                if children
                else []
            )
            pss, anon = tree_pss(args.watch) / 2**30, tree_pss(args.watch, "Pss_Anon") / 2**30
            print(f"{time.time():.0f} {pss:.3f} {anon:.3f} {b''.join(name).decode()}", flush=True)
            time.sleep(1)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    make(max(args.map_objects, *args.sizes), args.work)
    totals = {}
    for n in args.sizes:
        stages = run_size(n, args.side, args.work, args.epochs, args.resume)
        print(f"\n{n:,} objects, {args.side} px, 2 CPU cores")
        print(f"{'stage':<32} {'wall':>9} {'peak RSS':>9} {'per object':>11}  notes")
        for name, seconds, peak, notes in stages:
            rss = f"{peak:.2f} GiB"
            print(f"{name:<32} {seconds / 60:7.1f} min {rss:>9} {seconds / n * 1e3:8.3f} ms  "
                  f"{notes}")  # fmt: skip
        total = sum(s for _, s, _, _ in stages)
        peak = max(p for _, _, p, _ in stages)
        totals[n] = total / n
        print(f"{'end to end':<32} {total / 60:7.1f} min {peak:6.2f} GiB "
              f"{total / n * 1e3:8.3f} ms", flush=True)  # fmt: skip
        (args.work / f"result-{n}.json").write_text(
            json.dumps({"per_object_s": total / n, "date": time.strftime("%Y-%m-%d %H:%M")})
        )
    # sizes run in an earlier call of this script (on the same --work) count too
    for saved in sorted(args.work.glob("result-*.json")):
        size = int(saved.stem.split("-")[1])
        if size not in totals:
            found = json.loads(saved.read_text())
            totals[size] = found["per_object_s"]
            print(f"(time per object at {size:,} from the run of {found['date']})")
    if len(totals) > 1:
        small, large = min(totals), max(totals)
        print(f"\ntime per object at {large:,} / at {small:,}: "
              f"{totals[large] / totals[small]:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
