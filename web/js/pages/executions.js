// Executions, newest first: filters for time range, job and state; pages by cursor.
import { get } from '../api.js';
import { h, replace } from '../dom.js';
import { executionStates, isoWithOffset } from '../format.js';
import { executionsTable } from './job.js';

const PAGE = 50;

export async function executionsPage(view) {
  const local = (date) => isoWithOffset(date).slice(0, 16);
  const from = h('input', {
    type: 'datetime-local',
    id: 'filter-from',
    value: local(new Date(Date.now() - 24 * 3600e3)),
  });
  const to = h('input', { type: 'datetime-local', id: 'filter-to' });
  const job = h('input', { type: 'search', id: 'filter-job', placeholder: 'Job id', size: 14 });
  const states = await executionStates();
  const state = h('select', { id: 'filter-state' }, h('option', { value: '' }, 'Any state'),
    states.map((s) => h('option', { value: s }, s)));
  const list = h('div');
  const pager = h('div', { class: 'pager' });
  const cursors = [null];
  let page = 0;

  const label = (text, input) => h('label', { class: 'muted small' }, text, ' ', input);
  replace(view, h('h1', {}, 'Executions'),
    h('div', { class: 'row' }, label('From', from), label('To', to), label('Job', job), label('State', state)),
    list, pager);
  for (const input of [from, to, job, state]) {
    input.addEventListener('change', () => { cursors.length = 1; page = 0; load(); });
  }

  let lastKey = '';
  async function load() {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (from.value) params.set('time_range_start', isoWithOffset(new Date(from.value)));
    if (to.value) params.set('time_range_end', isoWithOffset(new Date(to.value)));
    if (job.value.trim()) params.set('job_id', job.value.trim());
    if (state.value) params.set('state', state.value);
    if (cursors[page]) params.set('cursor', cursors[page]);
    const data = await get('/api/v1/executions?' + params);
    const key = JSON.stringify([params.toString(), data]);
    if (key === lastKey) return;
    lastKey = key;
    cursors[page + 1] = data.next_cursor;
    replace(list, executionsTable(data.executions, true));
    replace(pager,
      h('button', { type: 'button', disabled: page === 0, onclick: () => { page -= 1; load(); } }, 'Newer'),
      h('span', { class: 'muted' }, `Page ${page + 1}`),
      h('button', { type: 'button', disabled: !data.next_cursor, onclick: () => { page += 1; load(); } }, 'Older'));
  }

  await load();
  // Only the first page refreshes itself (later pages would shift under the reader).
  return { refresh: () => (page === 0 ? load() : Promise.resolve()) };
}
