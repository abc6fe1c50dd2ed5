"""API keys: `ota_<key id>_<secret>`, shown once when made; only a hash of the secret is ever stored.

The key id in the key finds the record without a search, and the secret is compared by its hash in constant time.
Secrets are 256 random bits, so a plain SHA-256 is enough: no key can be guessed from its hash, and there is no
password to stretch.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ota_stream.models import format_timestamp

PREFIX = "ota"
_KEY = re.compile(r"^ota_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_KEY_SHAPED = re.compile(r"ota_[0-9a-f]{16}_[A-Za-z0-9_-]{10,}")
MIN_ADMIN_KEY_LENGTH = 32


class KeyScope(StrEnum):
    INGEST = "ingest"  # write events of its tenant (narrowed to an org or an app when the key says so)
    READ = "read"  # analytics, live views, exports, release health of its tenant
    ADMIN = "admin"  # keys and alert rules of its tenant


@dataclass(frozen=True)
class ApiKey:
    """A key's record, as stored and distributed: never its secret."""

    key_id: str
    secret_hash: str
    tenant_id: str
    scopes: tuple[KeyScope, ...]
    org_id: str | None = None
    app_id: str | None = None
    name: str | None = None
    created_at: str = field(default_factory=lambda: format_timestamp(datetime.now(UTC)))
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))

    def revoked(self) -> ApiKey:
        return replace(self, revoked_at=format_timestamp(datetime.now(UTC)))

    def public(self) -> dict[str, Any]:
        """What the admin API and the CLI show: everything but the hash."""
        data = asdict(self)
        del data["secret_hash"]
        data["scopes"] = [str(scope) for scope in self.scopes]
        return data

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "scopes": [str(scope) for scope in self.scopes]}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> ApiKey:
        return cls(**{**data, "scopes": tuple(KeyScope(scope) for scope in data["scopes"])})


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make(
    tenant_id: str, scopes: tuple[KeyScope, ...], org_id: str | None, app_id: str | None, name: str | None
) -> tuple[ApiKey, str]:
    """A new key's record and the key itself, which is never stored and shown only now."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id, hash_secret(secret), tenant_id, scopes, org_id, app_id, name)
    return record, f"{PREFIX}_{key_id}_{secret}"


def split(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    found = _KEY.match(key)
    return (found.group(1), found.group(2)) if found else None


def redact(text: str) -> str:
    """`text` with every key-shaped token replaced: for logs, audit lines, and paths that carry a key
    (docs/clients.md)."""
    return _KEY_SHAPED.sub("ota_***", text)
