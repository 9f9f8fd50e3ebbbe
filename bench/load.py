"""A small closed-loop HTTP/1.1 load generator on asyncio (keep-alive, one process).

Every virtual user sends the same pre-encoded request, waits for the whole
response, and sends again; latencies are taken per request. It is light
enough that at these rates the gateways and services, not it, are the limit.
"""

import asyncio
import time


def encode_request(method, path, host, headers=None, body=b""):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _user(host, port, request, stop_at, record_from, latencies, statuses):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (now := time.perf_counter()) < stop_at:
            writer.write(request)
            status, _body = await _read_response(reader)
            done = time.perf_counter()
            if now >= record_from:
                latencies.append(done - now)
                statuses.append(status)
    finally:
        writer.close()


def run(host, port, request, concurrency, seconds, warmup=0.5):
    """Load for ``warmup + seconds``; returns (requests/s, p50 s, p99 s, error share)."""

    async def main():
        latencies, statuses = [], []
        start = time.perf_counter()
        record_from, stop_at = start + warmup, start + warmup + seconds
        await asyncio.gather(
            *(
                _user(host, port, request, stop_at, record_from, latencies, statuses)
                for _ in range(concurrency)
            )
        )
        return latencies, statuses

    latencies, statuses = asyncio.run(main())
    if not latencies:
        return 0.0, float("nan"), float("nan"), 1.0
    latencies.sort()
    ok = sum(1 for s in statuses if s < 400)
    return (
        ok / seconds,
        latencies[len(latencies) // 2],
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        1 - ok / len(statuses),
    )


def run_count(host, port, request, total, concurrency):
    """Send ``request`` ``total`` times, ``concurrency`` at a time over kept-alive
    connections; returns ``(wall clock at send, seconds, status, body)`` per request."""

    async def user(left, results):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while left:
                left.pop()
                sent_at, started = time.time(), time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                results.append((sent_at, time.perf_counter() - started, status, body))
        finally:
            writer.close()

    async def main():
        left, results = list(range(total)), []
        await asyncio.gather(*(user(left, results) for _ in range(concurrency)))
        return results

    return asyncio.run(main())
