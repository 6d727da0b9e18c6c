// One job: every setting, the next 10 fire times (DST changes marked), a chart of recent runs, its executions.
import { api, get, enc } from '../api.js';
import { h, s, replace, flash, stateBadge, time } from '../dom.js';
import { stateClass, seconds, exitText } from '../format.js';
import { dependencySection } from './dependencies.js';

const HIDDEN = new Set(['job_id', 'name', 'recent_results', 'last_execution', 'running', 'job_class_string',
  'pub_args', 'month', 'day', 'week', 'day_of_week', 'hour', 'minute', 'health', 'dependencies', 'downstream',
  'waiting_on', 'definition_mismatch']);

function show(value) {
  if (value === null || value === undefined || value === '') return h('span', { class: 'muted' }, '—');
  if (typeof value === 'object') return h('code', {}, JSON.stringify(value));
  return h('span', {}, String(value));
}

/** Duration over time, one dot per run coloured by its result. */
export function runChart(executions) {
  const runs = executions.filter((e) => e.duration !== null && e.started_time).reverse();
  const width = 900, height = 180, left = 56, bottom = 24, top = 12, right = 12;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `Durations of the last ${runs.length} runs` });
  if (!runs.length) {
    svg.append(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'No finished runs yet'));
    return svg;
  }
  const max = Math.max(...runs.map((e) => e.duration), 0.001);
  const x = (i) =>
    left + (runs.length === 1 ? (width - left - right) / 2 : (i * (width - left - right)) / (runs.length - 1));
  const y = (d) => height - bottom - (d / max) * (height - bottom - top);
  svg.append(
    s('line', { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }),
    s('line', { x1: left, y1: top, x2: left, y2: height - bottom }),
    s('text', { x: left - 6, y: top + 10, 'text-anchor': 'end' }, seconds(max)),
    s('text', { x: left - 6, y: height - bottom, 'text-anchor': 'end' }, '0'),
    s('text', { x: left, y: height - 6 }, new Date(runs[0].started_time).toLocaleString()),
    s(
      'text',
      { x: width - right, y: height - 6, 'text-anchor': 'end' },
      new Date(runs[runs.length - 1].started_time).toLocaleString()
    )
  );
  runs.forEach((e, i) => {
    const dot = s('circle', { cx: x(i), cy: y(e.duration), r: 5, class: stateClass(e.state), fill: 'currentColor' },
      s('title', {}, `${e.state}, ${seconds(e.duration)}, ${e.started_time}`));
    const link = s('a', { href: `#/executions/${enc(e.execution_id)}` }, dot);
    svg.append(link);
  });
  return svg;
}

/** Fire times with a mark where the UTC offset changes (a DST transition between two runs). */
export function fireTimes(times) {
  const offsetOf = (t) => (t.match(/([+-]\d\d:\d\d)$/) || [])[1];
  return h('ol', { id: 'next-times' }, times.map((t, i) => {
    const changed = i > 0 && offsetOf(t) !== offsetOf(times[i - 1]);
    return h('li', {}, h('code', {}, t), changed
      ? h('span', { class: 'dst', title: 'The UTC offset changes before this run (daylight saving time)' },
        ` ← offset ${offsetOf(times[i - 1])} → ${offsetOf(t)} (DST)`) : null);
  }));
}

export function executionsTable(executions, withJob) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, withJob ? h('th', {}, 'Job') : null, h('th', {}, 'State'), h('th', {}, 'Scheduled'),
      h('th', { class: 'hide-narrow' }, 'Duration'), h('th', {}, 'Exit'), h('th', { class: 'hide-narrow' }, 'Attempt'),
      h('th', { class: 'hide-narrow' }, 'Trigger'), h('th', { class: 'hide-narrow' }, 'Node'))),
    h('tbody', {}, executions.length ? executions.map((e) => h('tr', { 'data-execution-id': e.execution_id },
      withJob ? h('td', {}, h('a', { href: `#/jobs/${enc(e.job_id)}` }, e.job_name || e.job_id)) : null,
      h('td', {}, h('a', { href: `#/executions/${enc(e.execution_id)}` }, stateBadge(e.state))),
      h('td', {}, time(e.scheduled_time)),
      h('td', { class: 'hide-narrow' }, seconds(e.duration)),
      h('td', {}, exitText(e)),
      h('td', { class: 'hide-narrow' }, String(e.attempt)),
      h('td', { class: 'hide-narrow' }, e.trigger),
      h('td', { class: 'hide-narrow node' }, e.node ?? e.hostname)))
      : h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No executions.')))));
}

export async function jobPage(view, id) {
  const header = h('div');
  const dependencies = h('div');
  const settings = h('div');
  const next = h('div');
  const chart = h('div');
  const list = h('div');
  replace(view, header, dependencies, h('h2', {}, 'Next runs'), next, h('h2', {}, 'Recent runs'), chart,
    h('h2', {}, 'Executions'), list, h('h2', {}, 'Settings'), settings);

  async function act(label, method, path) {
    try { await api(method, path); flash(label); } catch (error) { flash(error.message, 'error'); }
    await load();
  }

  async function load() {
    const job = await get(`/api/v1/jobs/${enc(id)}`);
    const isFile = job.source === 'file';
    replace(header,
      h('h1', {}, job.name, ' ', job.paused ? h('span', { class: 'state state-stopped' }, 'paused') : null),
      h('div', { class: 'row' },
        job.schedule
          ? [h('code', {}, job.schedule), h('span', { class: 'muted' }, job.schedule_description + ' · ' + job.timezone)]
          : h('span', { class: 'muted' }, 'No schedule of its own: runs when the jobs it runs after have succeeded')),
      job.health
        ? h('p', { id: 'job-health', 'data-health': job.health.state },
            'Health: ', h('span', { class: 'health health-' + job.health.state }, job.health.state),
            job.health.detail ? ' — ' + job.health.detail : '',
            job.health.since ? h('span', { class: 'muted' }, ' since ', time(job.health.since)) : '')
        : null,
      isFile
        ? h(
            'p',
            { class: 'note' },
            `Defined in ${job.file}:${job.line}. Edit that file to change it; run, pause and resume work here.`
          )
        : null,
      job.definition_mismatch
        ? h('p', { class: 'note mismatch', id: 'definition-mismatch' },
            'The cluster\'s nodes do not agree on this job: ',
            job.definition_mismatch.nodes.map((n) => `${n.node} ${n.digest ? n.digest.slice(0, 12) : '(absent)'}`)
              .join(', '), '. Each run uses the definition of the node that claimed it. ',
            h('a', { href: '#/cluster' }, 'Cluster'))
        : null,
      h('div', { class: 'row' },
        h(
          'button',
          {
            type: 'button',
            class: 'primary',
            'data-action': 'run',
            onclick: () => act('Started', 'POST', `/api/v1/executions/${enc(id)}`),
          },
          'Run now'
        ),
        job.paused
          ? h(
              'button',
              {
                type: 'button',
                'data-action': 'resume',
                onclick: () => act('Resumed', 'POST', `/api/v1/jobs/${enc(id)}/resume`),
              },
              'Resume'
            )
          : h(
              'button',
              {
                type: 'button',
                'data-action': 'pause',
                onclick: () => act('Paused', 'POST', `/api/v1/jobs/${enc(id)}/pause`),
              },
              'Pause'
            ),
        isFile ? null : h('a', { class: 'button', href: `#/jobs/${enc(id)}/edit`, 'data-action': 'edit' }, 'Edit'),
        isFile ? null : h('button', { type: 'button', class: 'danger', 'data-action': 'delete', onclick: async () => {
          if (!confirm(`Delete job ${id}? Its history stays.`)) return;
          try { await api('DELETE', `/api/v1/jobs/${enc(id)}`); flash('Deleted ' + id); location.hash = '#/jobs'; }
          catch (error) { flash(error.message, 'error'); }
        } }, 'Delete')));
    replace(settings, h('dl', { class: 'kv' }, Object.entries(job).filter(([k]) => !HIDDEN.has(k))
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, show(v))])));
    replace(dependencies, dependencySection(job));
    if (!job.schedule) {
      replace(next, h('p', { class: 'muted' }, 'Runs after ' + job.after.join(', ') + ' (trigger: dependency).'));
    } else if (job.schedule.startsWith('@reboot')) {
      replace(next, h('p', { class: 'muted' }, 'Runs once when the daemon starts.'));
    } else {
      try {
        const preview = await get(
          `/api/v1/schedule/preview?expr=${enc(job.schedule)}&tz=${enc(job.timezone)}&count=10`
            + (job.cron_days ? `&cron_days=${enc(job.cron_days)}` : '')
        );
        replace(next, fireTimes(preview.next_run_times));
      } catch (error) {
        replace(next, h('p', { class: 'field-error' }, error.message));
      }
    }
    const executions = (await get(`/api/v1/executions?job_id=${enc(id)}&limit=50`)).executions;
    replace(chart, runChart(executions));
    replace(list, executionsTable(executions.slice(0, 20), false));
  }

  try {
    await load();
  } catch (error) {
    replace(view, h('h1', {}, 'Job not found'), h('p', { class: 'field-error' }, error.message),
      h('a', { href: '#/jobs' }, 'Back to the jobs'));
    return {};
  }
  return { refresh: load };
}
