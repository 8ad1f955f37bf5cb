"""Sends one event, with FILE attached if given; prints peak memory.

usage: rss.py [FILE]
"""

import sys

from flowflex import file

from common import client, emit, memory

path = sys.argv[1] if len(sys.argv) > 1 else None
ff = client()
ff.send_event(
    "bench.memory",
    payload={"order_id": "ord_1", "invoice": file(path) if path else None},
)
emit(memory())
