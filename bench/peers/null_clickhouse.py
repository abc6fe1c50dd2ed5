"""A stand-in for the ClickHouse server the seed's Rust server writes to, for bench/ingest_peers.py only.

No ClickHouse server can be installed on the bench machines, and the seed's server (kafka-clickhouse mode) does not
start without one: it runs its DDL at start and its consumer inserts every event it reads. This answers the HTTP
interface the way a healthy server would for those requests (every statement succeeds; `SELECT 1` in RowBinary is
the byte 1) and discards the rows, counting the requests and bytes it was sent. So the seed's consumer does all of
its own work (reading Kafka, encoding RowBinary, sending it), and none of a real server's: in the seed's own
deployment that work runs on another machine, and here it would have taken CPU from the programs being measured.

    python -m bench.peers.null_clickhouse --port 8123
"""

from __future__ import annotations

import argparse

from aiohttp import web

ONE_IN_ROW_BINARY = b"\x01"


def application() -> web.Application:
    sent = {"requests": 0, "bytes": 0}

    async def answer(request: web.Request) -> web.Response:
        body = await request.read()
        sent["requests"] += 1
        sent["bytes"] += len(body)
        query = request.query.get("query", "") + body[:200].decode("utf-8", "replace")
        if query.lstrip().upper().startswith("SELECT 1"):
            return web.Response(body=ONE_IN_ROW_BINARY)
        return web.Response(body=b"")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(sent)

    app = web.Application(client_max_size=1 << 30)
    app.router.add_get("/null-clickhouse/stats", stats)
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    web.run_app(application(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
