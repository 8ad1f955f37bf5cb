"""The examples of the Python SDK's README (flowflex 0.1.0), run against the
server in FLOWFLEX_BASE_URL from a directory holding their sample files.

Each event is sent with the idempotency key "py-<n>"; python_interop.rs
sends the same payloads with the Rust SDK as "rs-<n>" and compares what the
emulator recorded. Prints, as JSON, what each call returned.
"""

import json
import os

from flowflex import FlowFlex, FlowFlexError

ff = FlowFlex(
    api_key=os.environ["FLOWFLEX_API_KEY"],
    api_secret=os.environ["FLOWFLEX_API_SECRET"],
    integration_code=os.environ["FLOWFLEX_INTEGRATION_CODE"],
    base_url=os.environ["FLOWFLEX_BASE_URL"],
)
results = {}


def send(n, event, payload):
    result = ff.send_event(event, payload=payload, idempotency_key=f"py-{n}")
    results[n] = {
        "uploaded_assets": result.uploaded_assets,
        "response": result.response,
    }


# Quick start
send(1, "order.placed", {"name": "Ada", "order_id": "ord_42"})

# Attaching a private file
send(2, "invoice.created", {
    "assetId": ff.file("./invoice.pdf"),
    "customer_id": "cust_123",
})

# Multiple files
send(3, "order.shipped", {
    "invoice": ff.file("./invoice.pdf"),
    "label":   ff.file("./label.png"),
    "gallery": [ff.file("./a.jpg"), ff.file("./b.jpg")],
    "order":   {"receipt": ff.file("./receipt.pdf")},
    "note":    "non-file values pass through untouched",
})

# Reusing one file across nodes
banner = ff.file("./banner.png")
send(4, "promo.sent", {"header": banner, "footer": banner})

# Supplying file bytes other ways: raw bytes
with open("invoice.pdf", "rb") as fh:
    pdf_bytes = fh.read()
send(5, "invoice.created", {
    "assetId": ff.file(pdf_bytes, filename="invoice.pdf", mime="application/pdf"),
})

# ... an open file object
with open("invoice.pdf", "rb") as fh:
    send(6, "invoice.created", {"assetId": ff.file(fh)})

# ... overriding the stored filename
send(7, "invoice.created", {
    "assetId": ff.file("./tmp-7f3a.pdf", filename="Invoice-2026.pdf"),
})

# Lower-level helpers
info = ff.create_upload_url(filename="x.pdf", mime="application/pdf")
asset_id = ff.upload_file(ff.file("./x.pdf"))
results["helpers"] = {"create_upload_url": sorted(info), "upload_file": asset_id}

# Errors: a file over the 25 MB cap is refused before anything is sent
try:
    ff.send_event("invoice.created", payload={"assetId": ff.file("./big.pdf")})
    results["errors"] = "sent"
except FlowFlexError as err:
    results["errors"] = {"type": type(err).__name__, "message": err.message}

print(json.dumps(results))
