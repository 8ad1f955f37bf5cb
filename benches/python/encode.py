"""What the SDK does to a payload before posting it (find the files, put
asset ids in their place, encode the JSON body as requests does), against
json.dumps of the same payload with the ids in place. Prints nanoseconds
per event for RUNS batches of ITERATIONS.

usage: encode.py RUNS ITERATIONS
"""

import copy
import json
import sys
import time

from flowflex import file

from common import ORDER, client, emit

runs, iterations = int(sys.argv[1]), int(sys.argv[2])
ff = client()

with_files = dict(
    ORDER,
    invoice=file("invoice.pdf"),
    label=file("label.png"),
    gallery=[file("photo-1.jpg"), file("photo-2.jpg")],
)
with_ids = dict(
    copy.deepcopy(ORDER),
    invoice="asset_fuzz0",
    label="asset_fuzz1",
    gallery=["asset_fuzz2", "asset_fuzz3"],
)
ids = {}


def sdk():
    # FlowFlex._resolve_files without the uploads, then requests' json= body.
    refs = []
    resolved = ff._clone_and_collect(with_files, "", refs)
    uploaded = {}
    for container, key, ref, path in refs:
        asset_id = ids.setdefault(id(ref), "asset_fuzz%d" % len(ids))
        container[key] = asset_id
        uploaded[path] = asset_id
    return json.dumps(resolved, allow_nan=False).encode("utf-8")


def plain():
    return json.dumps(with_ids, allow_nan=False).encode("utf-8")


assert json.loads(sdk()) == json.loads(plain()), "the two payloads differ"


def per_event(f):
    for _ in range(iterations // 10):
        f()
    start = time.perf_counter_ns()
    for _ in range(iterations):
        f()
    return (time.perf_counter_ns() - start) / iterations


sdk_ns, plain_ns = [], []
for _ in range(runs):
    plain_ns.append(per_event(plain))
    sdk_ns.append(per_event(sdk))
emit({"sdk_ns": sdk_ns, "plain_ns": plain_ns})
