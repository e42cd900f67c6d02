"""The floor: a plain asyncio.gather of httpx calls to the same fake, no app in between.

Reads {"url": ..., "key": ..., "bodies": [...]} as JSON on stdin, sends every body at once to
POST {url}/v1/images/generations, decodes each answer's JSON and base64 image (the least any
client must do), and prints {"wall_s": ..., "started_wall": ..., "latency_ms": [...],
"send_ms": [...]} as JSON: ``started_wall`` is the wall clock just before the calls are sent (to
set against the fake's arrival times); per body, in order, its latency from the call's start and
how long after that start its request's first byte was written (httpcore's trace: one event loop
opens the connections one after another, so the last of a burst waits). Run as its own process,
as a worker is, so it shares no GIL with the fake.
"""

import asyncio
import base64
import json
import sys
import time

import httpx


async def one(client, url, key, body):
    started = time.perf_counter()
    sent = []

    async def trace(name, info):
        if name == "http11.send_request_headers.started" and not sent:
            sent.append(time.perf_counter())

    response = await client.post(f"{url}/v1/images/generations", json=body,
                                 headers={"Authorization": f"Bearer {key}"}, extensions={"trace": trace})
    response.raise_for_status()
    for item in response.json()["data"]:
        base64.b64decode(item["b64_json"])
    return (time.perf_counter() - started) * 1000, ((sent[0] if sent else started) - started) * 1000


async def main(spec):
    limits = httpx.Limits(max_connections=len(spec["bodies"]) + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        started_wall, started = time.time(), time.perf_counter()
        calls = await asyncio.gather(*(one(client, spec["url"], spec["key"], b) for b in spec["bodies"]))
        wall = time.perf_counter() - started
    return {"wall_s": wall, "started_wall": started_wall, "latency_ms": [latency for latency, _ in calls],
            "send_ms": [send for _, send in calls]}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.load(sys.stdin)))))
