"""Running one measured command: wall time, CPU, peak memory of its process tree, load.

Each measurement is a fresh process (start-up and imports count, as for a user), started with
``nice`` when asked. The 1-min load average is read before and after and sampled during the
run (it includes the measured command's own processes, so ~1 on an idle 2-core machine while
a one-core job runs).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

MB = 2**20


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's model name (``/proc/cpuinfo``; else :func:`platform.processor`), so a
    measurement says which machine it was taken on: times from different machines are not
    compared with each other."""
    import platform

    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


#: Rule scripts not named after their rule's benchmark folder.
RULE_OF_SCRIPT = {"fit_and_test_model": "differential_expression"}


def script_rule(cmdline: list[str]) -> str | None:
    """The rule of a Snakemake job process (``python .snakemake/scripts/tmpab12.fit_model.py``),
    else None (the job's shell wrapper, a worker, any other process)."""
    if not cmdline or not Path(cmdline[0]).name.startswith("python"):
        return None
    for part in cmdline[1:3]:
        name = Path(part).name
        if part.endswith(".py") and ".snakemake" in part and name.count(".") >= 2:
            script = name.rsplit(".", 2)[-2]
            return RULE_OF_SCRIPT.get(script, script)
    return None


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree every ``interval`` s: the peak of the sum over all its
    live processes (an upper bound: shared pages count once per process), the 1-min load, and
    per Snakemake job (a process running a rule script) the peak of the job's own subtree."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.interval = interval
        self.done = threading.Event()
        self.peak_total = 0
        self.loads: list[float] = []
        self.jobs: dict[int, dict] = {}  # pid -> rule, first, last, peak (bytes)

    def run(self) -> None:
        psutil = self.psutil
        while not self.done.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss, parent, now = {}, {}, time.time()
            for proc in procs:
                try:
                    rss[proc.pid] = proc.memory_info().rss
                    parent[proc.pid] = proc.ppid()
                    if proc.pid not in self.jobs:
                        rule = script_rule(proc.cmdline())
                        if rule is not None:
                            self.jobs[proc.pid] = {"rule": rule, "first": now, "peak": 0}
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
            self.peak_total = max(self.peak_total, sum(rss.values()))
            self.loads.append(os.getloadavg()[0])
            tree = dict.fromkeys(self.jobs, 0)
            for pid, value in rss.items():  # each process counts for its nearest job ancestor
                node = pid
                while node in parent and node not in tree:
                    node = parent[node]
                if node in tree:
                    tree[node] += value
            for pid, value in tree.items():
                if pid in rss:
                    job = self.jobs[pid]
                    job["last"], job["peak"] = now, max(job["peak"], value)
            self.done.wait(self.interval)


def run_measured(
    command: list[str],
    *,
    cwd: Path,
    log: Path,
    env: dict | None = None,
    nice: int = 0,
    timeout: float | None = None,
) -> dict:
    """Run ``command`` (stdout+stderr to ``log``) and measure it.

    Returns ``wall_s``, ``cpu_s`` (user+system of the whole tree, from ``wait4``),
    ``peak_tree_rss_mb`` (sampled every 0.2 s), ``peak_process_rss_mb`` (largest single
    process, ``ru_maxrss``), ``load_before``, ``load_after``, ``load_mean``, ``jobs``
    (per Snakemake job: rule, first/last sighting, peak bytes). Raises RuntimeError with the
    log's tail if the command fails or runs past ``timeout`` s.
    """
    prefix = ["nice", "-n", str(nice)] if nice else []
    load_before = os.getloadavg()[0]
    with log.open("w") as handle:
        start = time.perf_counter()
        process = subprocess.Popen(
            prefix + command, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd, env=env
        )
        sampler = TreeSampler(process.pid)
        sampler.start()
        timer = None
        if timeout:
            timer = threading.Timer(timeout, process.kill)
            timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if timer:
            timer.cancel()
        sampler.done.set()
        sampler.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{' '.join(command[:4])} ... failed ({code}); {log}:\n{tail}")
    loads = sampler.loads or [load_before]
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_tree_rss_mb": sampler.peak_total / MB,
        "peak_process_rss_mb": usage.ru_maxrss / 1024,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "load_mean": sum(loads) / len(loads),
        "jobs": sampler.jobs,
    }
