"""Keys on a worker started with SECURED: the bootstrap admin key of this test session, and making and revoking
keys through the admin API (docs/security.md), as an operator would."""

from __future__ import annotations

import secrets
from typing import Any

import requests

from tests.support.processes import Worker

ADMIN = secrets.token_urlsafe(32)
SECURED = {"AUTH_REQUIRED": "true", "ADMIN_API_KEY": ADMIN}


def make_key(worker: Worker, tenant: str, *scopes: str, **narrow: str) -> dict[str, Any]:
    response = requests.post(
        f"{worker.url}/admin/keys",
        json={"tenant_id": tenant, "scopes": list(scopes), **narrow},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def revoke(worker: Worker, key_id: str) -> None:
    response = requests.delete(
        f"{worker.url}/admin/keys/{key_id}", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
    )
    assert response.status_code == 200, response.text
