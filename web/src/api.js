// The node's HTTP JSON API (docs/protocol.md, "The HTTP API"). Every failure becomes an
// ApiError carrying the protocol's stable error code, so callers match on codes, not text.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // A node that died mid-request must not hang the page (a reconnect asks discovery).
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    throw new ApiError(0, 'network', 'The chat server cannot be reached. Check your connection.');
  }
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = payload.error ?? {};
    throw new ApiError(response.status, error.code ?? 'bad_request', error.message ?? response.statusText);
  }
  return payload;
}

export const api = {
  signUp: (name, password) => call('POST', '/v1/signup', { body: { name, password } }),
  logIn: (name, password, label) =>
    call('POST', '/v1/login', { body: { name, password, device_label: label } }),
  logOut: (token) => call('POST', '/v1/logout', { token, body: {} }),
  profile: (token) => call('GET', '/v1/profile', { token }),
  discover: () => call('GET', '/v1/discover'),
  changeContact: (token, name, action) =>
    call('POST', '/v1/contacts', { token, body: { name, action } }),
};
