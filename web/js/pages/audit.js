// The audit log: time, user, event, job, and what changed.
import { get, enc } from '../api.js';
import { h, replace, time } from '../dom.js';
import { isoWithOffset } from '../format.js';

export async function auditPage(view) {
  const days = h('select', { id: 'audit-range' }, [1, 7, 30, 365].map((d) =>
    h('option', { value: String(d) }, d === 1 ? 'Last day' : `Last ${d} days`)));
  days.value = '7';
  const job = h('input', { type: 'search', id: 'audit-job', placeholder: 'Job id', size: 14 });
  const list = h('div');
  replace(view, h('h1', {}, 'Audit log'), h('div', { class: 'row' }, days, job), list);
  days.addEventListener('change', load);
  job.addEventListener('change', load);

  let lastKey = '';
  async function load() {
    const params = new URLSearchParams({ limit: '500',
      time_range_start: isoWithOffset(new Date(Date.now() - Number(days.value) * 86400e3)) });
    if (job.value.trim()) params.set('job_id', job.value.trim());
    const { logs } = await get('/api/v1/logs?' + params);
    const key = JSON.stringify([params.toString(), logs]);
    if (key === lastKey) return;
    lastKey = key;
    replace(list, h('div', { class: 'table-wrap' }, h('table', { id: 'audit-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'User'), h('th', {}, 'Event'), h('th', {}, 'Job'),
        h('th', {}, 'Details'), h('th', {}, 'From'))),
      h('tbody', {}, logs.length ? logs.map((entry) => h('tr', { 'data-event': entry.event },
        h('td', {}, time(entry.created_time)),
        h('td', {}, entry.user || '—'),
        h('td', {}, entry.event),
        h('td', {}, entry.job_id
          ? h('a', { href: `#/jobs/${enc(entry.job_id)}` }, entry.job_name || entry.job_id)
          : h('span', { title: 'An account' }, entry.job_name)),
        h('td', {}, entry.event === 'custom_run' && entry.description
          ? h('a', { href: `#/executions/${enc(entry.description)}` }, entry.description)
          : h('pre', { class: 'mono audit-description' }, entry.description)),
        h('td', { class: 'muted small' }, entry.address || '—')))
        : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'Nothing in this range.'))))));
  }

  await load();
  return { refresh: load };
}
