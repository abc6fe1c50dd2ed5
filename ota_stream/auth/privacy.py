"""Device ids pseudonymised before they reach Kafka (DEVICE_ID_HMAC_KEY, docs/security.md).

`hex(HMAC-SHA256(key, tenant_id + "\\x00" + device_id))[:32]`: the same device gives the same id within a tenant,
so every count stays the same, and the raw id is stored nowhere. The device drill-down route hashes the id in its
path the same way, so callers keep using raw ids.
"""

from __future__ import annotations

import hashlib
import hmac


class DeviceIds:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, tenant_id: str, device_id: str) -> str:
        message = f"{tenant_id}\x00{device_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]
