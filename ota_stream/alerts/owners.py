"""What alert rules and rollout guards share: each is made by the admin API for a tenant, kept in a compacted topic
(kafka/compacted.py) that every worker follows, and posts signed webhooks with a secret of its own."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from ota_stream.alerts.webhooks import Target
from ota_stream.kafka.compacted import CompactedTable


class Owner(Protocol):
    """A rule or a guard, as its store needs it."""

    @property
    def key(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def created_at(self) -> str: ...

    @property
    def webhook_url(self) -> str: ...

    @property
    def secret(self) -> str: ...

    def to_record(self) -> dict[str, Any]: ...


Kept = TypeVar("Kept", bound=Owner)


class OwnerStore(CompactedTable[Kept]):
    """Every rule (or guard) of the installation, in every worker: read from the start of its topic, then
    followed. `kind` names them in logs ("rule", "guard")."""

    kind = "owner"

    async def add(self, owner: Kept) -> None:
        await self.put(owner.key, owner.to_record())

    async def delete(self, key: str) -> None:
        await self.put(key, None)  # a tombstone: compaction forgets it

    def target(self, key: tuple[str, ...]) -> Target | None:
        """Where the notifications of `key` (its owner's key first) go: None once the owner is deleted."""
        owner = self.items.get(key[0])
        return None if owner is None else Target(owner.webhook_url, owner.secret, f"{self.kind} {owner.key}")

    def of_tenant(self, tenant_id: str | None) -> list[Kept]:
        """A tenant's (every tenant's with None), oldest first."""
        found = [o for o in self.items.values() if tenant_id is None or o.tenant_id == tenant_id]
        return sorted(found, key=lambda o: (o.created_at, o.key))
