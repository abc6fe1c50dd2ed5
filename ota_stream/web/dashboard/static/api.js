// Calls to the worker's API with the read key. Every figure the page shows comes from these answers as they are.

export class ApiFailure extends Error {
  constructor(status, message, path) {
    super(message);
    this.status = status; // 0 when the worker did not answer
    this.path = path;
  }

  describe() {
    const what = this.status ? `${this.status} ${this.message}` : this.message;
    return `${this.path}: ${what}`;
  }
}

// Thrown for an answer that arrives after the person picked another app or window: it is dropped unseen.
export class Superseded extends Error {}

export class Api {
  constructor(tenant, key) {
    this.tenant = tenant;
    this.key = key;
  }

  async get(path, params = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") query.set(name, value);
    }
    const url = query.size ? `${path}?${query}` : path;
    let response;
    try {
      response = await fetch(url, { headers: { Authorization: `Bearer ${this.key}` }, cache: "no-store" });
    } catch {
      throw new ApiFailure(0, "the worker did not answer", path);
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body?.error?.message ?? response.statusText;
      throw new ApiFailure(response.status, message, path);
    }
    return body.data;
  }

  async forScope(scope, path, params) {
    const data = await this.get(path, params);
    if (scope.replaced) throw new Superseded(path);
    return data;
  }

  // The /analytics routes take the tenant, the app and the window as query parameters.
  analytics(route, scope, extra = {}) {
    const params = { tenant_id: this.tenant, org_id: scope.org, app_id: scope.app, days: scope.days };
    return this.forScope(scope, `/analytics/${route}`, { ...params, ...extra });
  }

  // The /live routes take tenant/org/app in the path.
  live(scope, what, params = {}) {
    const ids = [this.tenant, scope.org, scope.app].map(encodeURIComponent).join("/");
    return this.forScope(scope, `/live/${ids}/${what}`, params);
  }
}
