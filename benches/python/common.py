"""Shared by the workload scripts: the client, the event, memory, output.

Each script is run by `flowflex-bench` (benches/src/python.rs) with the
emulator's address and credentials in FLOWFLEX_* variables, and prints one
JSON object on its last line of output.
"""

import json
import logging
import os

from flowflex import FlowFlex

# 64 threads on one client overflow requests' pool of 10 connections; urllib3
# warns on each discarded connection.
logging.getLogger("urllib3").setLevel(logging.ERROR)

# The same order as the Rust side's (benches/src/encode.rs), without files.
ORDER = {
    "order_id": "ord_7f3a9c",
    "customer": {
        "id": "cust_123",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0958",
    },
    "items": [
        {"sku": "BOOK-001", "title": "Notes on the Analytical Engine", "quantity": 1, "price_cents": 2499},
        {"sku": "PEN-042", "title": "Fountain pen", "quantity": 2, "price_cents": 1250},
        {"sku": "INK-007", "title": "Blue ink, 50 ml", "quantity": 3, "price_cents": 599},
    ],
    "total_cents": 6796,
    "currency": "EUR",
    "shipped_at": "2025-11-22T06:30:00Z",
    "note": "Leave at the door",
}


def client():
    """The SDK's client, with its defaults, pointed at the emulator."""
    return FlowFlex(
        api_key=os.environ["FLOWFLEX_API_KEY"],
        api_secret=os.environ["FLOWFLEX_API_SECRET"],
        integration_code=os.environ["FLOWFLEX_INTEGRATION_CODE"],
        base_url=os.environ["FLOWFLEX_BASE_URL"],
    )


def memory():
    """Peak and current resident memory of this process, in KiB."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0])
    return {"hwm_kib": fields["VmHWM"], "rss_kib": fields["VmRSS"]}


def emit(result):
    print(json.dumps(result), flush=True)
