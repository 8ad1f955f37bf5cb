"""Sends the order event for SECONDS, IN_FLIGHT at a time from one client
(threads), RUNS times; prints the events per second of each run.

usage: events.py SECONDS IN_FLIGHT RUNS
"""

import sys
import threading
import time

from common import ORDER, client, emit

seconds, in_flight, runs = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ff = client()
for _ in range(20):
    ff.send_event("bench.event", payload=ORDER)


def run():
    counts = [0] * in_flight
    start = time.perf_counter()
    deadline = start + seconds

    def worker(i):
        while time.perf_counter() < deadline:
            ff.send_event("bench.event", payload=ORDER)
            counts[i] += 1

    if in_flight == 1:
        worker(0)
    else:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(in_flight)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return sum(counts) / (time.perf_counter() - start)


emit({"per_second": [run() for _ in range(runs)]})
