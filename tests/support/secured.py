"""A broker with secured listeners (scripts/kafka/kafka.sh, KAFKA_SECURITY=all) and the settings a worker needs
to reach each of them."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Kafka

# Listener port offsets from KAFKA_PORT, as in scripts/kafka/kafka.sh.
LISTENER_OFFSETS = {"SSL": 2, "SASL_PLAINTEXT": 3, "SASL_SSL": 4}
PORTS_USED = 5  # PLAINTEXT, CONTROLLER and the three above
USER = "ota-test"


def secured_broker(directory: Path, port: int) -> Kafka:
    """A broker with every secured listener, and a SASL user whose password only this session knows."""
    return Kafka(
        directory,
        port,
        env={
            "KAFKA_SECURITY": "all",
            "KAFKA_SASL_USERNAME": USER,
            "KAFKA_SASL_PASSWORD": secrets.token_hex(12),
        },
    )


@dataclass(frozen=True)
class Mode:
    """How a worker reaches the broker: a listener, and what it must present there."""

    protocol: str  # SSL, SASL_PLAINTEXT or SASL_SSL
    mechanism: str | None = None  # for SASL
    client_certificate: bool = False  # the SSL listener requires one (KAFKA_SSL_CLIENT_AUTH=required)

    def settings(self, broker: Kafka, **overrides: str) -> dict[str, str]:
        """The worker's environment for this mode; overrides replace a value (e.g. a wrong password)."""
        files = broker.directory / "security"
        env = {
            "KAFKA_BROKERS": f"127.0.0.1:{broker.port + LISTENER_OFFSETS[self.protocol]}",
            "KAFKA_SECURITY_PROTOCOL": self.protocol,
        }
        if self.protocol.endswith("SSL"):
            env["KAFKA_SSL_CA_FILE"] = str(files / "ca.pem")
        if self.client_certificate:
            env["KAFKA_SSL_CERT_FILE"] = str(files / "client.pem")
            env["KAFKA_SSL_KEY_FILE"] = str(files / "client.key")
        if self.mechanism:
            env["KAFKA_SASL_MECHANISMS"] = self.mechanism
            env["KAFKA_SASL_USERNAME"] = broker.env["KAFKA_SASL_USERNAME"]
            env["KAFKA_SASL_PASSWORD"] = broker.env["KAFKA_SASL_PASSWORD"]
        return {**env, **overrides}


def changelog_messages(broker: Kafka, group: str) -> int:
    """Messages in the Faust changelog topics of `group`, read over the broker's PLAINTEXT listener."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def count() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        try:
            cluster = await consumer._client.fetch_all_metadata()
            topics = [t for t in cluster.topics() if t.startswith(f"{group}-") and t.endswith("-changelog")]
            partitions = [TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t) or ()]
            return sum((await consumer.end_offsets(partitions)).values()) if partitions else 0
        finally:
            await consumer.stop()

    return asyncio.run(count())
