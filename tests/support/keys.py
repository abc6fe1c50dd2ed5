"""Keys made through the admin API of a running worker (spec §7), for tests that need them."""

from __future__ import annotations

from typing import Any

import requests

from tests.support.processes import Worker


def make_key(worker: Worker, admin: str, tenant: str, *scopes: str, **narrow: str) -> dict[str, Any]:
    """`POST /admin/keys` with the bootstrap key `admin`; the answer's data (`key`, `key_id`, ...)."""
    response = requests.post(
        f"{worker.url}/admin/keys",
        json={"tenant_id": tenant, "scopes": list(scopes), **narrow},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])
