"""The key store's check of a presented key, on the records as the keys topic delivers them (no broker needed:
`_apply` is what reading a record does). tests/test_auth.py shows keys, revocation and restarts on real workers."""

from __future__ import annotations

import orjson
from pydantic import SecretStr

from ota_stream.auth import keys
from ota_stream.auth.keys import KeyScope
from ota_stream.auth.store import ADMIN_KEY_ID, VERIFIED_CACHE_SIZE, KeyStore
from ota_stream.config import KafkaSettings


def store() -> KeyStore:
    return KeyStore(KafkaSettings(brokers="127.0.0.1:1"))


def deliver(keys_: KeyStore, record: keys.ApiKey | None, key_id: str) -> None:
    """A record (or a tombstone) of the keys topic, read."""
    keys_._apply(key_id.encode(), None if record is None else orjson.dumps(record.to_record()))


def test_a_key_checked_before_is_refused_once_revoked_or_deleted() -> None:
    keys_ = store()
    record, presented = keys.make("acme", (KeyScope.INGEST,), None, None, "app")
    deliver(keys_, record, record.key_id)
    first = keys_.authenticate(presented)
    assert first is not None and first.key_id == record.key_id
    assert keys_.authenticate(presented) is first  # the second check is the cached one
    deliver(keys_, first.revoked(), record.key_id)
    assert keys_.authenticate(presented) is None
    deliver(keys_, record, record.key_id)  # the same record again: valid again, checked again
    assert keys_.authenticate(presented) is not None
    deliver(keys_, None, record.key_id)
    assert keys_.authenticate(presented) is None


def test_a_wrong_secret_for_a_known_key_id_is_never_taken() -> None:
    keys_ = store()
    record, presented = keys.make("acme", (KeyScope.READ,), None, None, None)
    deliver(keys_, record, record.key_id)
    assert keys_.authenticate(presented) is not None
    wrong = presented[:-4] + ("aaaa" if not presented.endswith("aaaa") else "bbbb")
    assert keys_.authenticate(wrong) is None
    assert keys_.authenticate(presented) is not None


def test_the_cache_of_checked_keys_stays_bounded() -> None:
    keys_ = store()
    made = [keys.make("acme", (KeyScope.INGEST,), None, None, None) for _ in range(3)]
    for record, _ in made:
        deliver(keys_, record, record.key_id)
    for _ in range(VERIFIED_CACHE_SIZE // 3 + 1):
        for _, presented in made:
            assert keys_.authenticate(presented) is not None
    assert len(keys_._verified) <= VERIFIED_CACHE_SIZE
    keys_._verified.update({f"k{i}": made[0][0] for i in range(VERIFIED_CACHE_SIZE)})
    record, presented = keys.make("acme", (KeyScope.INGEST,), None, None, None)
    deliver(keys_, record, record.key_id)
    assert keys_.authenticate(presented) is not None
    assert keys_._verified == {
        presented: keys_.items[record.key_id]
    }  # full: emptied, then the new check kept


def test_the_bootstrap_admin_key_is_never_taken_for_a_cached_key() -> None:
    admin = "a" * 40
    keys_ = KeyStore(KafkaSettings(brokers="127.0.0.1:1"), SecretStr(admin))
    record, presented = keys.make("acme", (KeyScope.INGEST,), None, None, None)
    deliver(keys_, record, record.key_id)
    for _ in range(2):
        regular, bootstrap = keys_.authenticate(presented), keys_.authenticate(admin)
        assert regular is not None and regular.key_id == record.key_id
        assert (
            bootstrap is not None
            and bootstrap.key_id == ADMIN_KEY_ID
            and bootstrap.scopes == (KeyScope.ADMIN,)
        )
    assert set(keys_._verified) == {presented}
