"""Who may call what (docs/security.md): the middleware that authenticates keys, checks scope and reach, limits the
rate and writes the audit line; ingest and admin routes ask the `Grant` it leaves on the request what a key reaches.

Which key a route needs, and its rate-limit class, is in its declaration (web/routes.py). A key reaches one
tenant, or one org or one app of it when narrowed, on every route:
- `/health`, `/metrics`, `/openapi.json`, the dashboard's page and its files (`/dashboard/static/`) are open: they
  hold no tenant data (the page asks for a read key and sends it with each API call).
- A path no route declares is a 404, whatever it would match: Faust serves routes of its own
  (`/router/`, `/table/`, `/`) that show the cluster's topics, assignments and URLs.
- Ingest routes need the `ingest` scope; events outside the key's reach are refused one by one.
- `/analytics/*` and `/live/*` need `read`, within the key's reach: a `tenant_id`, `org_id` or `app_id` that differs
  from the key's is 403, a missing one is the key's.
- `/admin/*` needs `admin` (or ADMIN_API_KEY); admin routes make, list and revoke only what is within the key's
  reach (web/admin.py).

No log line holds a key: `redact` removes anything shaped like one.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from ota_stream.auth.keys import ApiKey, KeyScope, redact
from ota_stream.auth.limits import Bucket, Limits
from ota_stream.auth.store import ADMIN_KEY_ID, KeyStore
from ota_stream.config import AuthSettings
from ota_stream.errors import NotReady, Unavailable
from ota_stream.web.declare import Limit, Route, RouteTable
from ota_stream.web.errors import ApiError
from ota_stream.web.routes import ROUTES

log = logging.getLogger(__name__)
audit_log = logging.getLogger("ota_stream.audit")

# The declared routes (web/routes.py): a path none of them takes, Faust's own routes (`/router/`, `/table/`, `/`)
# included, is a 404 before any handler runs.
TABLE = RouteTable(ROUTES)
MAX_KEY_LENGTH = 256


def unauthorized(message: str) -> ApiError:
    return ApiError(
        401, message, code="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="ota-stream"'}
    )


def forbidden(message: str) -> ApiError:
    return ApiError(403, message, code="forbidden")


@dataclass(frozen=True)
class Grant:
    """The key a request was made with; ingest and admin routes ask it what it covers."""

    key: ApiKey
    events: Bucket | None  # the key's ingest bucket, charged per event by the ingest routes

    @property
    def is_bootstrap(self) -> bool:
        return self.key.key_id == ADMIN_KEY_ID

    def covers_tenant(self, tenant_id: str) -> bool:
        return self.is_bootstrap or self.key.tenant_id == tenant_id

    def covers(self, tenant_id: str, org_id: str | None, app_id: str | None) -> bool:
        """Whether the key reaches this tenant/org/app: an event's, a live window's, or what an admin request
        makes, lists or revokes (None: every org or app of the tenant, which a narrowed key does not reach)."""
        key = self.key
        return (
            self.covers_tenant(tenant_id)
            and (key.org_id is None or key.org_id == org_id)
            and (key.app_id is None or key.app_id == app_id)
        )

    @property
    def reach(self) -> str:
        """What the key reaches, for messages: `tenant`, `tenant/org` or `tenant/org/app`."""
        return "/".join(self.fixed().values())

    def fixed(self) -> dict[str, str]:
        """The ids the key fixes: its tenant, and its org and app when it is narrowed (none for ADMIN_API_KEY)."""
        if self.is_bootstrap:
            return {}
        key = self.key
        ids = {"tenant_id": key.tenant_id, "org_id": key.org_id, "app_id": key.app_id}
        return {name: value for name, value in ids.items() if value is not None}

    def fill(self, event: dict[str, object]) -> None:
        """Supply what the key fixes and the event left out: tenant, and org/app when the key is narrowed."""
        for name, value in self.fixed().items():
            event.setdefault(name, value)

    def charge(self, events: int) -> None:
        """Take `events` from the ingest bucket, or refuse the whole request with 429."""
        if self.events is not None:
            wait = self.events.take(events)
            if wait:
                raise too_many(self.events, wait)


def _outside(grant: Grant, same_tenant: bool) -> ApiError:
    return forbidden(f"this key reads {grant.reach} only" if same_tenant else "this key reads another tenant")


def too_many(bucket: Bucket, wait: float) -> ApiError:
    retry = "60" if wait == float("inf") else str(max(1, int(wait + 0.999)))
    return ApiError(429, "rate limit exceeded; retry later", code="rate_limited",
                    headers={**bucket.headers(), "Retry-After": retry})  # fmt: skip


def declared_route(request: web.Request) -> Route | None:
    """The declaration of the route that answers the request: looked up at its path with dot segments resolved, as
    an ingest process's forwarder resolves them before the worker routes it (web/forward.py)."""
    return _route_at(request.method, request.raw_path.partition("?")[0])


@functools.lru_cache(maxsize=4096)
def _route_at(method: str, target: str) -> Route | None:
    """Remembered per request target: the lookup parses the target and tries every route's pattern, which took a
    tenth of an ingest process's time under single events, where one target is nearly every request."""
    return TABLE.find(method, URL(f"http://worker{target}").path)


def required_scope(request: web.Request) -> KeyScope | None:
    """The scope the request's route needs (None: open), as its declaration says."""
    route = declared_route(request)
    return route.scope if route is not None and request.method != "OPTIONS" else None


def presented_key(request: web.Request) -> str | None:
    """The key of `Authorization: Bearer <key>`, `X-API-Key: <key>` or a `/c/{ingest_key}/…` path (for clients
    that take only a base URL, docs/clients.md); 401 when malformed."""
    values = request.headers.getall("Authorization", []) + request.headers.getall("X-API-Key", [])
    in_path = request.match_info.get("ingest_key")
    if in_path is not None:
        values.append(in_path)
    if not values:
        return None
    if len(values) > 1:
        raise unauthorized("send one key, in Authorization, X-API-Key or the path")
    value = values[0].strip()
    if "Authorization" in request.headers:
        scheme, _, value = value.partition(" ")
        if scheme.lower() != "bearer":
            raise unauthorized("use Authorization: Bearer <key>")
        value = value.strip()
    if not value or len(value) > MAX_KEY_LENGTH or not value.isascii():
        raise unauthorized("the key is malformed")
    return value


class Guard:
    """`enforce`: the scopes this process checks. Ingest processes check ingest only: what they pass on to the
    worker is checked there, once."""

    def __init__(
        self, settings: AuthSettings, keys: KeyStore, enforce: frozenset[KeyScope] = frozenset(KeyScope)
    ) -> None:
        self.required = settings.auth_required
        self.keys = keys
        self.enforce = enforce
        self.limits = Limits(
            {Limit.EVENTS.value: settings.rate_limit_ingest_events_per_second,
             Limit.REQUESTS.value: settings.rate_limit_read_requests_per_second}
        )  # fmt: skip

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = declared_route(request)
        if route is None:
            # Faust's own routes told anyone the topology, and /router/nope/ was a 500.
            raise ApiError(404, "no such route")
        scope = route.scope if request.method != "OPTIONS" else None
        if scope is None or not self.required or scope not in self.enforce:
            return await handler(request)
        if not self.keys.ready:
            raise NotReady("the worker is still reading its keys; retry")
        presented = presented_key(request)
        if presented is None:
            raise unauthorized("this route needs a key: Authorization: Bearer <key> or X-API-Key")
        key = self.keys.authenticate(presented)
        if key is None:
            raise unauthorized("unknown or revoked key")
        if scope not in key.scopes:
            raise forbidden(f"this key has no {scope} scope")
        per_event = route.limit is Limit.EVENTS
        grant = Grant(key, self.limits.bucket(key.key_id, Limit.EVENTS.value) if per_event else None)
        request["grant"] = grant
        if per_event:
            response = await handler(request)
            if grant.events is not None:
                response.headers.update(grant.events.headers())
            return response
        return await self._per_request(request, handler, grant, route)

    async def _per_request(
        self, request: web.Request, handler: Handler, grant: Grant, route: Route
    ) -> web.StreamResponse:
        if route.scope is KeyScope.READ:
            request = self._scoped(request, grant)
        bucket = self.limits.bucket(grant.key.key_id, route.limit.value) if route.limit is not None else None
        if bucket is not None:
            wait = bucket.take(1)
            if wait:
                raise too_many(bucket, wait)
        status = 500
        try:
            response = await handler(request)
            status = response.status
        except ApiError as exc:
            status = exc.status
            if bucket is not None:
                exc.headers.update(bucket.headers())
            raise
        except Unavailable:
            status = 503  # as web/errors.py answers it
            raise
        finally:
            self._audit(request, grant, status)
        if bucket is not None:
            response.headers.update(bucket.headers())
        return response

    def _scoped(self, request: web.Request, grant: Grant) -> web.Request:
        """The request within the key's reach: a live window's tenant/org/app must be within it; analytics get
        what the key fixes (tenant, and org and app when narrowed) where they leave it out, and 403 where they
        name something else."""
        ids = request.match_info
        if "tenant_id" in ids:  # a live window's: tenant/org/app in the path
            tenant = ids["tenant_id"]
            if not grant.covers(tenant, ids.get("org_id"), ids.get("app_id")):
                raise _outside(grant, grant.covers_tenant(tenant))
            return request
        missing: dict[str, str] = {}
        for name, value in grant.fixed().items():
            given = request.query.getall(name, [])
            if any(other != value for other in given):
                raise _outside(grant, name != "tenant_id")
            if not given:
                missing[name] = value
        return request.clone(rel_url=request.rel_url.update_query(missing)) if missing else request

    def _audit(self, request: web.Request, grant: Grant, status: int) -> None:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        audit_log.info(
            "audit",
            extra={
                "audit": True,
                "key_id": grant.key.key_id,
                "tenant_id": request.query.get("tenant_id") or grant.key.tenant_id,
                "route": f"{request.method} {redact(route)}",
                "query": redact(request.query_string),
                "status": status,
            },
        )
