// Who is using the UI (GET /api/v1/auth/me), and logging in, setting up and out.
import { api } from './api.js';

export const session = { me: null };

/** Reads who the caller is; records the role on <body data-role> (CSS hides what the role cannot do). */
export async function loadMe() {
  session.me = await api('GET', '/api/v1/auth/me');
  document.body.dataset.role = session.me.authenticated ? session.me.role : 'none';
  return session.me;
}

export async function logIn(username, password) {
  await api('POST', '/api/v1/auth/login', { username, password });
  return loadMe();
}

export async function setUp(code, username, password) {
  await api('POST', '/api/v1/auth/setup', { code, username, password });
  return loadMe();
}

export async function logOut() {
  await api('POST', '/api/v1/auth/logout');
  return loadMe();
}
