"""Test-only, never imported by the worker's own code: a consumer that loses the messages of one partition between
Faust's read and its streams, as the stall of issue 18 did (read, so counted as seen; never processed nor acked).

tests/test_self_healing.py puts this folder on a worker's PYTHONPATH with OTA_TEST_FAULT_DIR set; Python imports
`sitecustomize` at start, which wraps the callback that Faust's consumer hands every message read. While the file
`drop` exists in that folder, holding `<partition> <mode>`, each message of that partition of KAFKA_TOPIC is
dropped instead of handed on, and its `<generation> <partition> <offset>` appended to the file `dropped`. Modes:

- `armed`: drop while the file exists (the test removes it);
- `generation`: drop only in the consumer generation of the first message dropped (the group's next rebalance
  ends it, whatever the file).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _install(folder: Path, topic: str) -> None:
    from faust.transport.consumer import Consumer

    original = Consumer.__init__
    first_generation: list[int] = []

    def dropped(message: Any) -> bool:
        try:
            partition, mode = (folder / "drop").read_text().split()
        except (FileNotFoundError, ValueError):
            return False
        if message.topic != topic or message.partition != int(partition):
            return False
        if mode == "generation":
            first_generation[:] = first_generation or [message.generation_id]
            if message.generation_id != first_generation[0]:
                return False
        with (folder / "dropped").open("a") as record:
            record.write(f"{message.generation_id} {message.partition} {message.offset}\n")
        return True

    def __init__(self: Any, transport: Any, callback: Any, *args: Any, **kwargs: Any) -> None:
        async def losing(message: Any) -> Any:
            if dropped(message):
                return None
            return await callback(message)

        original(self, transport, losing, *args, **kwargs)

    Consumer.__init__ = __init__  # type: ignore[method-assign]


if os.environ.get("OTA_TEST_FAULT_DIR"):
    _install(Path(os.environ["OTA_TEST_FAULT_DIR"]), os.environ.get("KAFKA_TOPIC", "ota-events"))
