"""One HTTP/1.1 request on a connection of its own, as each commune leader's phone sends its
acknowledgement: the acknowledgement step's client.

The step first sent its 102 requests through one httpx client and its pool. With the pool's
connections reused from the burst before, the requests reached the API one after another: the
API's own phases took about 80 ms a request while the client waited 1.6 s for each answer,
and every other burst ran at half the rate of the rest (2026-12-06, README, "Where an
acknowledgement's time goes"). The bare side sends its updates through the Temporal client,
which has no such cost; this client has as little as a request can have."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


async def post(base: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST with no body; the answer's status and body."""
    address = urlsplit(base)
    assert address.hostname is not None and address.port is not None, base
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        lines = [f"POST {path} HTTP/1.1", f"Host: {address.netloc}", "Content-Length: 0"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += ["Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode())
        answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    assert not any(line.lower().startswith("transfer-encoding:") for line in header_lines), (
        "a chunked answer"
    )
    return int(status_line.split(" ", 2)[1]), body
