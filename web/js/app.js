// Hash routing and self-refresh. Each page is a function (view, params) returning {refresh?, dispose?}.
import { jobsPage } from './pages/jobs.js';
import { jobPage } from './pages/job.js';
import { executionsPage } from './pages/executions.js';
import { executionPage } from './pages/execution.js';
import { auditPage } from './pages/audit.js';
import { clusterPage } from './pages/cluster.js';
import { editorPage } from './pages/editor.js';
import { loginPage, setupPage } from './pages/login.js';
import { h, replace, flash } from './dom.js';
import { session, loadMe, logOut } from './session.js';

const routes = [
  [/^#\/jobs\/new$/, editorPage, 'jobs'],
  [/^#\/jobs\/([^/]+)\/edit$/, editorPage, 'jobs'],
  [/^#\/jobs\/([^/]+)$/, jobPage, 'jobs'],
  [/^#\/(?:jobs)?$/, jobsPage, 'jobs'],
  [/^#\/executions\/([^/]+)$/, executionPage, 'executions'],
  [/^#\/executions$/, executionsPage, 'executions'],
  [/^#\/audit$/, auditPage, 'audit'],
  [/^#\/cluster$/, clusterPage, 'cluster'],
  [/^#\/login$/, loginPage, 'login'],
  [/^#\/setup$/, setupPage, 'login'],
];

/** The header's "who am I": the user and role, and Log out for a session. */
function showUser() {
  const box = document.getElementById('whoami');
  const me = session.me;
  if (!me || !me.authenticated) { replace(box); return; }
  replace(box, h('span', { id: 'whoami-user', title: 'Role: ' + me.role }, me.user),
    h('span', { class: 'muted small', id: 'whoami-role' }, ' ' + me.role),
    me.kind === 'user' ? h('button', { type: 'button', id: 'logout', class: 'link', onclick: async () => {
      try { await logOut(); } catch (error) { flash(error.message, 'error'); }
      location.hash = '#/login';
    } }, 'Log out') : null);
}

const REFRESH_MS = 3000;
let current = null;

async function route() {
  let hash = location.hash.split('?')[0] || '#/jobs';
  try { await loadMe(); } catch (error) { session.me = null; }
  showUser();
  const me = session.me;
  if (me && !me.authenticated && hash !== '#/login' && hash !== '#/setup') {
    // Locked with a setup code waiting: make the first admin; otherwise log in.
    hash = me.setup ? '#/setup' : '#/login';
    history.replaceState(null, '', hash);
  }
  if (current && current.dispose) current.dispose();
  current = null;
  const view = document.getElementById('view');
  const match = routes.map(([pattern, page, nav]) => [hash.match(pattern), page, nav]).find(([m]) => m);
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('active', !!match && link.dataset.nav === match[2]);
  }
  if (!match) {
    replace(view, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/jobs' }, 'Back to the jobs')));
    return;
  }
  const [m, page] = match;
  const params = m.slice(1).map(decodeURIComponent);
  view.replaceChildren();
  try {
    current = (await page(view, ...params)) || {};
  } catch (error) {
    replace(view, h('h1', {}, 'Something went wrong'), h('p', { class: 'field-error' }, error.message));
  }
  view.focus({ preventScroll: true });
}

function tick() {
  if (document.visibilityState !== 'visible' || !current || !current.refresh) return;
  current.refresh().catch(() => {});
}

window.addEventListener('hashchange', route);
document.addEventListener('visibilitychange', tick);
setInterval(tick, REFRESH_MS);
if (!location.hash) history.replaceState(null, '', '#/jobs');
route();
