"""Every process's view of the API keys: the keys topic (kafka/compacted.py), plus the bootstrap ADMIN_API_KEY.

A key made or revoked through any process reaches every other within a poll of the topic (well under a second), and
survives restarts of all of them. While a process has not yet read the topic to its end, it cannot tell a valid key
from an unknown one, and keyed requests answer 503.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from pydantic import SecretStr

from ota_stream.auth import keys
from ota_stream.auth.keys import ApiKey, KeyScope
from ota_stream.config import KafkaSettings
from ota_stream.kafka.compacted import CompactedTable

ADMIN_KEY_ID = "admin"  # how the bootstrap key appears in audit lines
# Keys checked once are not hashed again on every request (a SHA-256 and a regex: 2% of an ingest process's time).
VERIFIED_CACHE_SIZE = 10_000


class KeyStore(CompactedTable[ApiKey]):
    def __init__(self, kafka: KafkaSettings, admin_api_key: SecretStr | None = None, **kwargs: Any) -> None:
        """`admin_api_key`: ADMIN_API_KEY, accepted on the admin routes for every tenant."""
        super().__init__(kafka, kafka.keys_topic, ApiKey.from_record, **kwargs)
        admin = admin_api_key.get_secret_value() if admin_api_key else None
        self._admin_hash = hashlib.sha256(admin.encode()).hexdigest() if admin else None
        self._verified: dict[str, ApiKey] = {}  # presented key -> its record, while that record is current

    @property
    def ready(self) -> bool:
        return self.caught_up.is_set()

    def authenticate(self, presented: str) -> ApiKey | None:
        """The active key that `presented` is, or None (malformed, unknown, wrong secret or revoked)."""
        verified = self._verified.get(presented)  # only keys that were not the admin key are ever kept here
        if verified is not None and self.items.get(verified.key_id) is verified:
            return verified  # a revocation or a new secret replaces the record, and this check with it
        if self._admin_hash is not None and hmac.compare_digest(
            hashlib.sha256(presented.encode()).hexdigest(), self._admin_hash
        ):
            return ApiKey(ADMIN_KEY_ID, self._admin_hash, "*", (KeyScope.ADMIN,))
        parts = keys.split(presented)
        if parts is None:
            return None
        record = self.items.get(parts[0])
        if record is None or not record.active or not record.matches(parts[1]):
            return None
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[presented] = record
        return record

    async def create(
        self,
        tenant_id: str,
        scopes: tuple[KeyScope, ...],
        org_id: str | None,
        app_id: str | None,
        name: str | None,
    ) -> tuple[ApiKey, str]:
        record, key = keys.make(tenant_id, scopes, org_id, app_id, name)
        await self.put(record.key_id, record.to_record())
        return record, key

    async def revoke(self, key_id: str) -> ApiKey | None:
        record = self.items.get(key_id)
        if record is None:
            return None
        if record.active:
            record = record.revoked()
            await self.put(key_id, record.to_record())
        return record

    def of_tenant(self, tenant_id: str | None) -> list[ApiKey]:
        found = [k for k in self.items.values() if tenant_id is None or k.tenant_id == tenant_id]
        return sorted(found, key=lambda k: (k.created_at, k.key_id))
