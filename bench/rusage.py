#!/usr/bin/env python3
"""Runs a command RUNS times and prints one line per run: NAME WALL_S CPU_S MAXRSS_KIB.

Each run is `/usr/bin/time -f %M CMD...` (GNU time). CPU is the user + system time from the
rusage `wait4` returns (microsecond resolution, unlike GNU time's 10 ms; it includes GNU
time's own, well below 1 ms). Peak RSS is GNU time's %M, the command's own ru_maxrss: the
rusage of a process forked from this Python would count Python's pages (the kernel records
the old address space's peak at exec). Output of the command goes to LOG; a run that exits
non-zero stops the measurement with status 1.

Usage: rusage.py NAME RUNS LOG CMD...
"""
import os
import subprocess
import sys
import tempfile
import time

name, runs, log, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
with open(log, "wb") as out, tempfile.NamedTemporaryFile("r") as rss:
    for _ in range(runs):
        t0 = time.perf_counter()
        child = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
        )
        _, status, ru = os.wait4(child.pid, 0)
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            out.flush()
            sys.stderr.write(f"{name} exited {child.returncode}:\n" + open(log).read())
            sys.exit(1)
        rss.seek(0)
        maxrss = int(rss.read().split()[-1])
        print(f"{name} {wall:.6f} {ru.ru_utime + ru.ru_stime:.6f} {maxrss}", flush=True)
