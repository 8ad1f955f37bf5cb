"""Uploads FILE RUNS times (after one warm-up); prints the seconds of each.

usage: upload.py FILE RUNS
"""

import sys
import time

from flowflex import file

from common import client, emit

path, runs = sys.argv[1], int(sys.argv[2])
ff = client()
ff.upload_file(file(path))
seconds = []
for _ in range(runs):
    start = time.perf_counter()
    ff.upload_file(file(path))
    seconds.append(time.perf_counter() - start)
emit({"seconds": seconds})
