// The hub's JSON API: one request function, its typed error, and the button wrapper every action uses.
import { toast } from './dom.js';
import { state } from './state.js';


/**
 * What to do when the hub says the session is gone (401): session.js shows the sign-in form. Plugged
 * in at start rather than imported, so this module imports nothing that imports it.
 */
let signedOut = () => undefined;
export function onSignedOut(fn) {
  signedOut = fn;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `the hub answered ${status}`);
    this.status = status;
    this.field = body && body.field;
    this.refused = body && Array.isArray(body.refused) ? body.refused : null;
  }
}

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['x-csrf-token'] = state.csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (data && typeof data.serverNow === 'number') state.skew = data.serverNow - Date.now();
  if (res.status === 401 && !path.startsWith('/api/auth/sign-in')) {
    signedOut();
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
export const get = (p) => api('GET', p);
export const post = (p, b = {}) => api('POST', p, b);

/** Runs an action from a button: disables it meanwhile, shows the hub's message when refused. */
export async function act(button, fn, done) {
  if (button) button.disabled = true;
  try {
    const r = await fn();
    if (done) toast(done);
    return r;
  } catch (err) {
    toast(err.message, true);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
