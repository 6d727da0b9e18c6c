// Log in (user name and password; the server sets an HttpOnly session cookie), and the first admin's setup
// with the one-time code the daemon wrote to its data directory.
import { h, replace } from '../dom.js';
import { logIn, setUp, session } from '../session.js';

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

export async function loginPage(view) {
  const username = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'field-error', id: 'login-error', role: 'alert' });
  const form = h('form', { class: 'narrow', id: 'login-form' },
    field('User name', username), field('Password', password), error,
    h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, 'Log in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      await logIn(username.value, password.value);
      location.hash = '#/jobs';
    } catch (e) { error.textContent = e.message; password.value = ''; }
  });
  const locked = session.me && session.me.mode === 'locked';
  replace(view, h('h1', {}, 'Log in to Tock'),
    locked ? h('p', { class: 'note' }, 'This server has no users yet. Make the first admin on the server with ',
      h('code', {}, 'tock users add NAME --role admin'), ', or open the one-time setup URL the daemon printed.') : null,
    form);
  username.focus();
  return {};
}

export async function setupPage(view) {
  const fromURL = new URLSearchParams(location.hash.split('?')[1] || '').get('code') || '';
  const code = h('input', { id: 'setup-code', name: 'code', value: fromURL, required: true, autocomplete: 'off' });
  const username = h('input', { id: 'setup-username', name: 'username', value: 'admin', autocomplete: 'username',
    required: true });
  const password = h('input', { id: 'setup-password', name: 'password', type: 'password', autocomplete: 'new-password',
    required: true, minlength: 8 });
  const error = h('p', { class: 'field-error', id: 'setup-error', role: 'alert' });
  const form = h('form', { class: 'narrow', id: 'setup-form' },
    fromURL ? null : field('Setup code (in the data directory\'s setup-code file)', code),
    field('Admin user name', username), field('Password (8 characters or more)', password), error,
    h('button', { type: 'submit', class: 'primary', id: 'setup-submit' }, 'Create the admin and log in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      await setUp(code.value.trim(), username.value, password.value);
      location.hash = '#/jobs';
    } catch (e) { error.textContent = e.message; }
  });
  replace(view, h('h1', {}, 'Set up Tock'),
    h('p', {}, 'Tock has no users yet. Create its first admin: you will be logged in as them.'), form);
  (fromURL ? password : code).focus();
  return {};
}
