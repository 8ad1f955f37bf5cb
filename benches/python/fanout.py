"""Sends an event with the first FILE, then with every FILE, RUNS times;
prints the seconds of each send.

usage: fanout.py RUNS FILE...
"""

import sys
import time

from flowflex import file

from common import client, emit

runs, paths = int(sys.argv[1]), sys.argv[2:]
ff = client()


def send(some):
    start = time.perf_counter()
    ff.send_event("bench.fanout", payload={"files": [file(p) for p in some]})
    return time.perf_counter() - start


send(paths[:1])
single, fanout = [], []
for _ in range(runs):
    single.append(send(paths[:1]))
    fanout.append(send(paths))
emit({"single": single, "fanout": fanout})
