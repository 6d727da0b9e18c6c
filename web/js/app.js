// Hash routing and self-refresh. Each page is a function (view, params) returning {refresh?, dispose?}.
import { jobsPage } from './pages/jobs.js';
import { jobPage } from './pages/job.js';
import { executionsPage } from './pages/executions.js';
import { executionPage } from './pages/execution.js';
import { auditPage } from './pages/audit.js';
import { editorPage } from './pages/editor.js';
import { h, replace } from './dom.js';

const routes = [
  [/^#\/jobs\/new$/, editorPage, 'jobs'],
  [/^#\/jobs\/([^/]+)\/edit$/, editorPage, 'jobs'],
  [/^#\/jobs\/([^/]+)$/, jobPage, 'jobs'],
  [/^#\/(?:jobs)?$/, jobsPage, 'jobs'],
  [/^#\/executions\/([^/]+)$/, executionPage, 'executions'],
  [/^#\/executions$/, executionsPage, 'executions'],
  [/^#\/audit$/, auditPage, 'audit'],
];

const REFRESH_MS = 3000;
let current = null;

async function route() {
  const hash = location.hash.split('?')[0] || '#/jobs';
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
