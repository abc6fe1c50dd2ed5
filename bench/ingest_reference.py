"""The reference for ingest speed: the best plain aiohttp + aiokafka handler for the same job.

    .venv/bin/python -m bench.ingest_reference --port 16500 --brokers 127.0.0.1:9092 --topic ota-ref

Validate (the same pydantic model as ours), send with acks=all and idempotence, await the ack, answer 202. One
process, uvloop, no middleware, no access log: what a careful engineer would write in an afternoon.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
import uvloop
from aiohttp import web
from aiokafka import AIOKafkaProducer

from ota_stream.models import InvalidEvent, TimeWindow, format_timestamp, parse_event


def build(producer: AIOKafkaProducer, topic: str) -> web.Application:
    window = TimeWindow(365)

    async def post_event(request: web.Request) -> web.Response:
        try:
            event = parse_event(orjson.loads(await request.read()), window.bounds())
        except (orjson.JSONDecodeError, InvalidEvent) as exc:
            return web.json_response({"error": str(exc)}, status=422)
        await (await producer.send(topic, event.to_json(), key=event.partition_key))
        body = {
            "status": "accepted",
            "event_id": event.event_id,
            "timestamp": format_timestamp(event.timestamp),
        }
        return web.Response(body=orjson.dumps(body), status=202, content_type="application/json")

    async def post_batch(request: web.Request) -> web.Response:
        accepted, rejected, futures = 0, [], []
        for index, data in enumerate(orjson.loads(await request.read())):
            try:
                event = parse_event(data, window.bounds())
            except InvalidEvent as exc:
                rejected.append({"index": index, "errors": str(exc)})
                continue
            futures.append(await producer.send(topic, event.to_json(), key=event.partition_key))
            accepted += 1
        await asyncio.gather(*futures)
        body = {"accepted": accepted, "rejected": rejected}
        return web.Response(body=orjson.dumps(body), status=202, content_type="application/json")

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/events", post_event)
    app.router.add_post("/events/batch", post_batch)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "healthy"})

    app.router.add_get("/health", health)
    return app


async def main(port: int, brokers: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all", enable_idempotence=True, linger_ms=0)
    await producer.start()
    runner = web.AppRunner(build(producer, topic), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await producer.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=16500)
    parser.add_argument("--brokers", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="ota-reference")
    args = parser.parse_args()
    uvloop.run(main(args.port, args.brokers, args.topic))
