# ruff: noqa: E501  (the table below keeps one pin a line, whatever its length)
"""Every method our code copies from faust-streaming, mode or aiokafka, and every private name it relies on, is
pinned to the source it was written against.

Faust's internals change between releases without notice, and a copy of an upstream method (kafka/recovery.py,
kafka/stream.py) or code that reaches into upstream bookkeeping (kafka/consumer.py, kafka/healing.py,
kafka/table_state.py, kafka/acks.py) would keep running against a changed upstream and silently do the wrong
thing. Each row of `PINS` names an upstream function (`module:Qualified.name`), the sha256 of its source as
installed (`inspect.getsource`, decorators unwrapped), and the code of ours that copies it or depends on it. An
upgrade of faust-streaming, mode-streaming or aiokafka that changes any of them fails here, naming both sides;
re-read the new upstream source against ours, mend ours if needed, then update the digest:

    .venv/bin/python -m tests.test_upstream_pins faust.transport.consumer:Consumer.ack   # prints the row

Every private method that a class of ours in ota_stream/kafka/ overrides must have a row (a test below), so a new
override cannot go unpinned; public methods that are copies are listed by hand.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import sys
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import pytest

import ota_stream.kafka

UPSTREAM = ("faust", "mode", "aiokafka")
DISTRIBUTIONS = ("faust-streaming", "mode-streaming", "aiokafka")


@dataclass(frozen=True)
class Pin:
    upstream: str  # module:Qualified.name of the upstream function
    sha256: str  # of its source, as installed when ours was written or last re-checked
    ours: str  # module:Qualified.name of our copy, or of the code that relies on it


# fmt: off
PINS = (
    # kafka/recovery.py: copies of Faust's recovery, each differing as its docstring says
    Pin("faust.tables.recovery:Recovery.on_recovery_completed", "6ef567acf072e46da3fccbccc6d662371f634f622c3d510972d5df81f70ae3ac", "ota_stream.kafka.recovery:OrderedRecovery.on_recovery_completed"),
    Pin("faust.tables.recovery:Recovery._resume_streams", "d986a6710c1aca98f08c4c723fb3eadc5bf24576ad4eb9da3dd3eecedda2f24e", "ota_stream.kafka.recovery:OrderedRecovery._resume_streams"),
    Pin("faust.tables.recovery:Recovery._seek_offsets", "19598ca63d94d250e49d2dfe48a3c48ecbdf65ee4f1a2871abda51d28b335e55", "ota_stream.kafka.recovery:OrderedRecovery._seek_offsets"),
    Pin("faust.tables.recovery:Recovery.on_rebalance", "aa4d997a1795ceae3880f98311b46935d9ae1a183a699b9a283bb4306bc8641f", "ota_stream.kafka.recovery:OrderedRecovery.on_rebalance"),
    Pin("faust.tables.manager:TableManager.recovery", "f0bf5de78b4c3d235c3554010480f407010ccb7c481c68852a985542b952df32", "ota_stream.kafka.recovery:OrderedTableManager.recovery"),
    # kafka/stream.py: take_weighted is take_events with batches cut by weight
    Pin("faust.streams:Stream.take_events", "607d48aead118ba8ea868718a0df87de1c5fcecd10ec542c659b448796728e08", "ota_stream.kafka.stream:WeightedStream.take_weighted"),
    # kafka/sensors.py: the per-message hooks, re-implemented as plain counts moved into the same metrics
    Pin("faust.sensors.prometheus:PrometheusMonitor.on_message_in", "ca24793cbc41deb7998cef2c78cf95604dbe96de13e1ae599d8d66797920470d", "ota_stream.kafka.sensors:BatchedPrometheusMonitor.on_message_in"),
    Pin("faust.sensors.prometheus:PrometheusMonitor.on_stream_event_in", "f592409433679cf8cd15ec9e37aa0f2a9678d56dc1b36973cf3ae7b0a10c7522", "ota_stream.kafka.sensors:BatchedPrometheusMonitor.on_stream_event_in"),
    Pin("faust.sensors.prometheus:PrometheusMonitor.on_stream_event_out", "8dce2fcf20165d4d127d64b3513617b357a5614efbd4487308b6ad0442679c75", "ota_stream.kafka.sensors:BatchedPrometheusMonitor.on_stream_event_out"),
    Pin("faust.sensors.prometheus:PrometheusMonitor.on_message_out", "347089e00334fd7546abf1575e47741961403cdb2022ff71a923d13ad487fc1d", "ota_stream.kafka.sensors:BatchedPrometheusMonitor.on_message_out"),
    # kafka/consumer.py: the consumer's overrides (one row per override, kept by whoever changes that file)
    Pin("faust.transport.consumer:Consumer.ack", "5fcf41cf45153475de3790dc56fec1b83335956dc8b3bf7ff6bbb2b57627f03f", "ota_stream.kafka.consumer:SafeConsumer.ack"),
    Pin("faust.transport.consumer:Consumer._add_gap", "4df2573ded7c1c2cde04dc6bde6d4480cb5875ef565256e56966b585ae39b1c1", "ota_stream.kafka.consumer:SafeConsumer._add_gap"),
    Pin("faust.transport.consumer:Consumer._wait_next_records", "6218e1969a636b3ff504ad1b8e7ad58a113572e43d746cc96d684ed5153032c6", "ota_stream.kafka.consumer:SafeConsumer._wait_next_records"),
    Pin("faust.transport.consumer:Consumer._new_offset", "1d2c7ea89a7ad4f1a216c1d51936e569162cd66bd56f889e13fd29c910b58eb0", "ota_stream.kafka.consumer:SafeConsumer._cover"),
    Pin("faust.transport.drivers.aiokafka:Consumer._to_message", "7c24f6511b2fcef7cbfe73526e78de033bfe0df211f1fd30509d699c9deb6ce4", "ota_stream.kafka.consumer:SafeConsumer._to_message"),
    Pin("faust.transport.drivers.aiokafka:Consumer._new_consumer_thread", "0870ec53dea75083995e3565c0f0a25a1c63ecceaeb238e92e2585e3623af5a9", "ota_stream.kafka.consumer:SafeConsumer._new_consumer_thread"),
    Pin("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread.seek_to_committed", "775ab0adc4b052abee204d5347a556412b1f77ed4de971adde69a55a1cb6f908", "ota_stream.kafka.consumer:SafeConsumerThread.seek_to_committed"),
    Pin("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._fetch_records", "39a2c6c79fc1455a199629912b533458a720c64983bc957420a42feef6593baa", "ota_stream.kafka.consumer:SafeConsumerThread._fetch_records"),
    Pin("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._create_worker_consumer", "c2701bfc3e6f6cad95c2be36d6a255a86e2c57d18d36cc1082b5fb5c482d99d7", "ota_stream.kafka.consumer:SafeConsumerThread._create_worker_consumer"),
    Pin("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread.verify_event_path", "b983e7735f647cb34650530fb0f1bc709e8cb67d54c483b939b14b49b8d931e0", "ota_stream.kafka.consumer:SafeConsumerThread.verify_event_path"),
    # kafka/changelog_audit.py: mends a partition's database as Faust's store opens it, raw keys and values as the changelog's (apply_changelog_batch writes them so)
    Pin("faust.stores.rocksdb:Store._db_for_partition", "cb7e67d5f9efc4bced7b7ab09a55fe717c352daad5b693594e3f7ca52a98787f", "ota_stream.kafka.changelog_audit:mend"),
    Pin("faust.stores.rocksdb:Store.apply_changelog_batch", "ea3344d369fc4ab5e3cdace30565691136035a463acb7b2551fdc0b8af71643b", "ota_stream.kafka.changelog_audit:mend"),
    # kafka/table_state.py: the store reads the current event's partition only; the changelog callback keeps offsets
    Pin("faust.streams:current_event", "3b821f1a78d86a58234dfe781fbf539775b00e66fdac9489c1c398a2d81d7e9d", "ota_stream.kafka.table_state:at_partition"),
    Pin("faust.stores.rocksdb:Store._get", "7ae8dfd6d7754a5952ae162d4d5cf0d51a8a020ed730a4a7c7dc7f7c84e73fb8", "ota_stream.kafka.table_state:at_partition"),
    Pin("faust.stores.rocksdb:Store._set", "4227e561e288d9413bf663a3a67940fd4976f5484e70e49445858ce4d400d26e", "ota_stream.kafka.table_state:at_partition"),
    Pin("faust.stores.rocksdb:Store._contains", "bd7d4e5252a71b9a5705677611435431f80b92e1ea145b6cf48151fc581d7889", "ota_stream.kafka.table_state:at_partition"),
    Pin("faust.tables.base:Collection._on_changelog_sent", "60122c86a120d82cffa95da4c22323e12d67fa82f3112f08ac7f8edde7c47826", "ota_stream.kafka.table_state:send_change"),
    # kafka/healing.py: the bookkeeping a re-seek resets as a rebalance does, the read-offset rule it works around, the
    # thread it calls into, and the coordinator call of a rejoin
    Pin("faust.transport.consumer:Consumer.on_partitions_revoked", "d04b7ae72c6fc206924a2879d6c90dd383f3e8ba6f4b10a19ca99a921eb8f4db", "ota_stream.kafka.healing:_forget_reads"),
    Pin("faust.transport.consumer:Consumer.perform_seek", "0e8c130ff4b0afd82c0be9c5fd831316e10febc62c94032833911096e156d7c6", "ota_stream.kafka.healing:_forget_reads"),
    Pin("faust.transport.consumer:Consumer._drain_messages", "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417", "ota_stream.kafka.healing:reseek"),
    Pin("faust.transport.consumer:Consumer.pause_partitions", "27a1c94bdacd54de06593ec4eb040b32e9e7c9534e9af041f6ed66723df5f922", "ota_stream.kafka.healing:reseek"),
    Pin("faust.transport.consumer:Consumer.resume_partitions", "afe6b7c02a41d63cd46d47a03f09b547c85289c108de21d682970057d1015c3b", "ota_stream.kafka.healing:reseek"),
    Pin("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._ensure_consumer", "ff4a4c693b7ec63f4a76dfb61c419380bef70dd32383fe38ebcfcc27091605a6", "ota_stream.kafka.healing:_seek_to_committed"),
    Pin("mode.threads:QueueServiceThread.call_thread", "479edda75b54734b48dabbb33071259949ded0a6f9fa6f82e81afdc42aff6e55", "ota_stream.kafka.healing:reseek"),
    Pin("aiokafka.consumer.group_coordinator:GroupCoordinator.request_rejoin", "f70a261c91c38cb53dbe591926f6221c284cf86ffd0ffb8451830c43e6884556", "ota_stream.kafka.healing:rejoin"),
    # kafka/acks.py and shutdown.py: a message marked acked is never acked again; the stop waits for unacked
    # messages (wait_empty, in the app's stop, after flow control is suspended) and sheds those marked acked
    Pin("faust.types.tuples:Message.ack", "4751b72c4ed84153a7b6c14fdfe41cc92e477b38a6c6089cb785532ef5771688", "ota_stream.kafka.acks:release"),
    Pin("faust.transport.consumer:Consumer.wait_empty", "e4662fe24f094819add590b2d75f233840e77823b432aea6504539768572102f", "ota_stream.kafka.acks:release"),
    Pin("faust.app.base:App._stop_consumer", "55854a5de12c3f5296b4acf16ddfe359be0b702d0cd7686bcab541847c396077", "ota_stream.shutdown:Shutdown.begin"),
)
# fmt: on


def resolve(name: str) -> Any:
    """The function named `module:Qualified.name` (a property's getter; decorators unwrapped)."""
    module, _, qualified = name.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualified.split("."):
        found = inspect.getattr_static(found, part)
    if isinstance(found, property):
        found = found.fget
    if isinstance(found, staticmethod | classmethod):
        found = found.__func__
    return inspect.unwrap(found)


def digest(name: str) -> str:
    return hashlib.sha256(inspect.getsource(resolve(name)).encode()).hexdigest()


def installed() -> str:
    return ", ".join(f"{name} {version(name)}" for name in DISTRIBUTIONS)


@pytest.mark.parametrize("pin", PINS, ids=lambda pin: pin.upstream)
def test_the_upstream_source_is_the_one_ours_was_written_against(pin: Pin) -> None:
    now = digest(pin.upstream)
    ours = resolve(pin.ours)
    assert now == pin.sha256, (
        f"{pin.upstream} changed upstream ({installed()}): its source's sha256 is {now}, pinned {pin.sha256}. "
        f"Re-check {pin.ours} ({inspect.getsourcefile(ours)}) against the new source of "
        f"{inspect.getsourcefile(resolve(pin.upstream))}, then update its row in tests/test_upstream_pins.py."
    )


def _overrides() -> list[str]:
    """`module:Class.method` of every private method that a class of ours in ota_stream/kafka/ defines over a method
    of an upstream base class."""
    found = []
    for info in pkgutil.iter_modules(ota_stream.kafka.__path__):
        module = importlib.import_module(f"ota_stream.kafka.{info.name}")
        for cls in vars(module).values():
            if not isinstance(cls, type) or cls.__module__ != module.__name__:
                continue
            bases = [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] in UPSTREAM]
            for name, value in vars(cls).items():
                private = name.startswith("_") and not name.startswith("__")
                method = inspect.isfunction(value) or isinstance(value, property)
                if private and method and any(name in vars(base) for base in bases):
                    found.append(f"{module.__name__}:{cls.__name__}.{name}")
    return found


def test_every_private_override_is_pinned() -> None:
    overrides = _overrides()
    assert "ota_stream.kafka.recovery:OrderedRecovery._seek_offsets" in overrides  # the scan finds them
    pinned = {pin.ours for pin in PINS}
    unpinned = [name for name in overrides if name not in pinned]
    assert not unpinned, (
        f"private overrides without a pin: {unpinned}; add a row for the upstream method each overrides "
        "(python -m tests.test_upstream_pins module:Class.method prints it)"
    )


def test_each_pin_is_one_row() -> None:
    rows = [(pin.upstream, pin.ours) for pin in PINS]
    assert len(rows) == len(set(rows))


if __name__ == "__main__":  # print the row of each upstream function named, as it is installed now
    for name in sys.argv[1:]:
        print(f'    Pin("{name}", "{digest(name)}", "ota_stream.…"),')
