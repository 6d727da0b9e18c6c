// Jobs: counts, search and tag filter, a page of jobs with their schedule, next run, last results and actions.
import { api, get, enc } from '../api.js';
import { h, replace, flash, stateBadge, time } from '../dom.js';
import { stateClass } from '../format.js';
import { dependencySummary } from './dependencies.js';

const PAGE = 50;
const HEALTH_STATES = ['down', 'overdue', 'late', 'blocked', 'failing', 'paused', 'ok', 'new'];
const ALERTING = ['down', 'overdue', 'late', 'blocked'];

/** A job's health as a badge; `ok` and `new` stay quiet. */
export function healthBadge(health) {
  if (!health || health.state === 'ok' || health.state === 'new') return null;
  return h('div', {}, h('span', { class: 'health health-' + health.state, 'data-health': health.state,
    title: health.detail || '' }, health.state));
}

export async function jobsPage(view) {
  const state = { q: '', tag: '', health: '', offset: 0 };
  const counts = h('div', { class: 'counts', id: 'job-counts' });
  const search = h('input', { type: 'search', id: 'job-search', placeholder: 'Search id, name, command…',
    'aria-label': 'Search jobs' });
  const tag = h('input', {
    type: 'search',
    id: 'job-tag',
    placeholder: 'Tag',
    'aria-label': 'Filter by tag',
    size: 10,
  });
  const health = h(
    'select',
    { id: 'job-health', 'aria-label': 'Filter by health' },
    h('option', { value: '' }, 'Any health'),
    HEALTH_STATES.map((s) => h('option', { value: s }, s))
  );
  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  let debounce;
  let lastKey = '';
  const onFilter = () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.q = search.value.trim();
      state.tag = tag.value.trim();
      state.health = health.value;
      state.offset = 0;
      load();
    }, 200);
  };
  search.addEventListener('input', onFilter);
  tag.addEventListener('input', onFilter);
  health.addEventListener('change', onFilter);

  replace(view,
    h('h1', {}, 'Jobs'),
    counts,
    h('div', { class: 'row' }, search, tag, health),
    h('div', { class: 'table-wrap' }, h('table', { id: 'jobs-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Job'),
          h('th', {}, 'Schedule'),
          h('th', { class: 'hide-narrow' }, 'Next run'),
          h('th', {}, 'Last result'),
          h('th', { class: 'hide-narrow' }, 'Recent'),
          h('th', { class: 'hide-narrow' }, 'Source'),
          h('th', {}, 'Actions')
        )
      ),
      body)),
    pager);

  async function act(label, method, path) {
    try {
      const result = await api(method, path);
      flash(label + (result.execution_id ? ': ' + result.execution_id : ''));
    } catch (error) {
      flash(error.message, 'error');
    }
    await load();
  }

  function row(job) {
    const isFile = job.source === 'file';
    const last = job.last_execution;
    const actions = h('td', { class: 'actions' },
      h('button', { type: 'button', 'data-action': 'run', title: 'Run now',
        onclick: () => act('Started ' + job.job_id, 'POST', `/api/v1/executions/${enc(job.job_id)}`) }, 'Run'), ' ',
      job.paused
        ? h(
            'button',
            {
              type: 'button',
              'data-action': 'resume',
              onclick: () => act('Resumed ' + job.job_id, 'POST', `/api/v1/jobs/${enc(job.job_id)}/resume`),
            },
            'Resume'
          )
        : h(
            'button',
            {
              type: 'button',
              'data-action': 'pause',
              onclick: () => act('Paused ' + job.job_id, 'POST', `/api/v1/jobs/${enc(job.job_id)}/pause`),
            },
            'Pause'
          ),
      ' ',
      isFile
        ? null
        : h('a', { class: 'button', href: `#/jobs/${enc(job.job_id)}/edit`, 'data-action': 'edit' }, 'Edit'),
      ' ',
      isFile ? null : h('button', { type: 'button', class: 'danger', 'data-action': 'delete', onclick: async () => {
        if (!confirm(`Delete job ${job.job_id}? Its history stays.`)) return;
        await act('Deleted ' + job.job_id, 'DELETE', `/api/v1/jobs/${enc(job.job_id)}`);
      } }, 'Delete'));
    return h('tr', { 'data-job-id': job.job_id },
      h(
        'td',
        {},
        h('a', { href: `#/jobs/${enc(job.job_id)}`, class: 'job-name' }, job.name),
        job.name !== job.job_id ? h('div', { class: 'muted small mono' }, job.job_id) : null,
        healthBadge(job.health),
        job.enabled ? null : h('div', {}, h('span', { class: 'state state-skipped' }, 'disabled')),
        job.tags && job.tags.length ? h('div', { class: 'muted small' }, job.tags.map((t) => '#' + t).join(' ')) : null
      ),
      h('td', {}, job.schedule ? h('code', {}, job.schedule) : null,
        job.schedule ? h('div', { class: 'muted small' }, job.schedule_description) : null,
        job.schedule ? h('div', { class: 'muted small' }, job.timezone) : null, dependencySummary(job)),
      h(
        'td',
        { class: 'hide-narrow' },
        job.next_run_time ? time(job.next_run_time) : h('span', { class: 'muted' }, '—')
      ),
      h(
        'td',
        {},
        last
          ? h('a', { href: `#/executions/${enc(last.execution_id)}` }, stateBadge(last.state))
          : h('span', { class: 'muted' }, 'never run')
      ),
      h('td', { class: 'hide-narrow' }, h('span', { class: 'strip', 'aria-label': 'Last results, oldest first' },
        (job.recent_results || []).map((s) => h('i', { class: stateClass(s), title: s })))),
      h(
        'td',
        { class: 'hide-narrow' },
        isFile
          ? h(
              'span',
              { title: `${job.file}:${job.line}` },
              'file',
              h('div', { class: 'muted small mono' }, `${job.file}:${job.line}`)
            )
          : 'API'
      ),
      actions);
  }

  async function load() {
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset) });
    if (state.q) params.set('q', state.q);
    if (state.tag) params.set('tag', state.tag);
    if (state.health) params.set('health', state.health);
    const data = await get('/api/v1/jobs?' + params);
    // Unchanged data leaves the page alone (keeps focus and selection for keyboard users).
    const key = JSON.stringify([state, data]);
    if (key === lastKey) return;
    lastKey = key;
    const c = data.counts || {};
    replace(
      counts,
      h('span', { 'data-count': 'total' }, `${c.total} total`),
      h('span', { 'data-count': 'active' }, `${c.active} active`),
      h('span', { 'data-count': 'paused' }, `${c.paused} paused`),
      h('span', { 'data-count': 'failing' }, `${c.failing} failing`),
      // Health states that need someone: only those with jobs in them, each a link to the filtered list.
      ALERTING.filter((s) => c.health && c.health[s]).map((s) =>
        h('a', { href: '#', class: 'health health-' + s, 'data-count': 'health-' + s, onclick: (event) => {
          event.preventDefault();
          health.value = s;
          onFilter();
        } }, `${c.health[s]} ${s}`))
    );
    replace(
      body,
      data.jobs.length
        ? data.jobs.map(row)
        : h(
            'tr',
            {},
            h(
              'td',
              { colspan: 7, class: 'muted' },
              c.total ? 'No job matches.' : 'No jobs yet. Add one, or put files in jobs.d.'
            )
          )
    );
    const matching = c.matching ?? data.jobs.length;
    replace(
      pager,
      h(
        'button',
        {
          type: 'button',
          disabled: state.offset === 0,
          onclick: () => {
            state.offset = Math.max(0, state.offset - PAGE);
            load();
          },
        },
        'Previous'
      ),
      h(
        'span',
        { class: 'muted', id: 'jobs-range' },
        matching ? `${state.offset + 1}–${state.offset + data.jobs.length} of ${matching}` : ''
      ),
      h(
        'button',
        {
          type: 'button',
          disabled: state.offset + PAGE >= matching,
          onclick: () => {
            state.offset += PAGE;
            load();
          },
        },
        'Next'
      )
    );
  }

  await load();
  return { refresh: load };
}
