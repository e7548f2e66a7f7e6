"""The acknowledgement step's client (bench/phone.py): one request, on a connection of its own,
its status and body read back whole."""

from __future__ import annotations

import asyncio

from bench import phone


async def test_a_post_goes_on_its_own_connection_and_reads_the_answer_whole() -> None:
    received: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(
            b"HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\n"
            b'content-length: 23\r\nconnection: close\r\n\r\n{"detail":"refused\\r\\n"}'
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        first = await phone.post(f"http://127.0.0.1:{port}/", "/a/1", {"Authorization": "Bearer t"})
        second = await phone.post(f"http://127.0.0.1:{port}", "/a/2", {})
    assert first == (409, b'{"detail":"refused\\r\\n"}')
    assert second[0] == 409
    assert received == [
        b"POST /a/1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\n"
        b"Authorization: Bearer t\r\nConnection: close\r\n\r\n" % port,
        b"POST /a/2 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n" % port,
    ]
