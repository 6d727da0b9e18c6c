// The REST API (see /api/v1/openapi.json). Errors carry the API's message and the field at fault.

export class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.field = body && body.field;
    this.errors = (body && body.errors) || [];
  }
}

export async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const type = response.headers.get('content-type') || '';
  const data = type.includes('application/json') ? await response.json() : await response.text();
  if (response.status === 401 && !path.startsWith('/api/v1/auth/') && !location.hash.startsWith('#/login')) {
    // The session ended (logged out elsewhere, disabled, expired): back to the login page.
    location.hash = '#/login';
  }
  if (!response.ok) throw new APIError(response.status, typeof data === 'object' ? data : { error: data });
  return data;
}

export const get = (path) => api('GET', path);
export const enc = encodeURIComponent;
