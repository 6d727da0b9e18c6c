// One execution: timing, exit status or signal, stdout and stderr (live while running), a Stop button.
import { api, get, enc } from '../api.js';
import { h, replace, flash, stateBadge, time } from '../dom.js';
import { seconds, stateClass } from '../format.js';

export async function executionPage(view, id) {
  const header = h('div');
  const details = h('div');
  const tabs = { stdout: h('button', { type: 'button', role: 'tab', id: 'tab-stdout' }, 'stdout'),
    stderr: h('button', { type: 'button', role: 'tab', id: 'tab-stderr' }, 'stderr') };
  const panes = {
    stdout: h('pre', { class: 'output', id: 'output-stdout', role: 'tabpanel', 'aria-labelledby': 'tab-stdout' }),
    stderr: h('pre', { class: 'output', id: 'output-stderr', role: 'tabpanel', 'aria-labelledby': 'tab-stderr' }),
  };
  const truncation = h('p', { class: 'muted small', id: 'output-note' });
  const notifications = h('section', { id: 'notifications' });
  let selected = 'stdout';
  function select(name) {
    selected = name;
    for (const [key, tab] of Object.entries(tabs)) {
      tab.setAttribute('aria-selected', String(key === name));
      panes[key].hidden = key !== name;
    }
  }
  tabs.stdout.addEventListener('click', () => select('stdout'));
  tabs.stderr.addEventListener('click', () => select('stderr'));
  select('stdout');
  replace(view, header, details, h('div', { class: 'tabs', role: 'tablist' }, tabs.stdout, tabs.stderr),
    panes.stdout, panes.stderr, truncation, notifications);

  let source = null;
  let execution = null;

  function render(e) {
    execution = e;
    const running = e.state === 'running' || e.state === 'scheduled';
    replace(header,
      h('h1', {}, 'Execution ', h('span', { class: 'mono' }, e.execution_id), ' ', stateBadge(e.state)),
      h('div', { class: 'row' },
        h('a', { href: `#/jobs/${enc(e.job_id)}` }, '← ', e.job_name || e.job_id),
        running ? h('button', { type: 'button', class: 'danger', id: 'stop', onclick: async () => {
          try {
            // On a cluster the run may be held by another node, which was asked to stop it.
            const answer = await api('DELETE', `/api/v1/executions/${enc(id)}`);
            flash('Stopping ' + id + (answer && answer.node ? ' on node ' + answer.node : ''));
          }
          catch (error) { flash(error.message, 'error'); }
        } }, 'Stop') : null));
    const outcome = e.exit_code !== null && e.exit_code !== undefined ? `exit status ${e.exit_code}`
      : e.signal ? `killed by signal ${e.signal}` : '—';
    replace(details, h('dl', { class: 'kv' },
      h('dt', {}, 'Result'), h('dd', { id: 'result' }, outcome),
      h('dt', {}, 'Scheduled'), h('dd', {}, time(e.scheduled_time)),
      h('dt', {}, 'Started'), h('dd', {}, time(e.started_time)),
      h('dt', {}, 'Ended'), h('dd', {}, time(e.ended_time)),
      h('dt', {}, 'Duration'), h('dd', {}, seconds(e.duration)),
      h('dt', {}, 'Trigger'), h('dd', {}, e.trigger),
      h('dt', {}, 'Attempt'), h('dd', {}, String(e.attempt)),
      h('dt', {}, 'Node, pid'), h('dd', { id: 'node' }, `${e.node ?? e.hostname} ${e.pid ?? ''}`),
      h('dt', {}, 'Definition'), h('dd', { id: 'definition-digest' }, e.definition_digest
        ? h('code', { title: 'SHA-256 of the job definition the run used' }, e.definition_digest.slice(0, 16))
        : h('span', { class: 'muted' }, '—')),
      e.message ? [h('dt', {}, 'Message'), h('dd', {}, e.message)] : null));
    const notes = [];
    for (const stream of ['stdout', 'stderr']) {
      const kept = new TextEncoder().encode(panes[stream].textContent).length;
      const total = e[stream + '_bytes'] || 0;
      if (!running && total > kept)
        notes.push(`${stream}: ${total} bytes written, the middle was cut (marked in the text)`);
    }
    truncation.textContent = notes.join('; ');
    renderNotifications(e.notifications || []);
  }

  // Deliveries of this run's notifications (webhooks, commands, mail), with Retry.
  const deliveryLook = { delivered: 'succeeded', abandoned: 'failed', failed: 'timeout', pending: 'scheduled',
    delivering: 'running', suppressed: 'skipped' };
  function renderNotifications(list) {
    if (!list.length) { replace(notifications); return; }
    replace(notifications, h('h2', {}, 'Notifications'), h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Event'), h('th', {}, 'Channel'), h('th', {}, 'Target'),
        h('th', {}, 'State'), h('th', { class: 'hide-narrow' }, 'Attempts'), h('th', {}, 'Last'), h('th', {}, ''))),
      h('tbody', {}, list.map((d) => h('tr', { 'data-notification-id': d.notification_id },
        h('td', {}, d.event_type),
        h('td', {}, d.channel),
        h('td', { class: 'mono' }, d.target),
        h('td', {}, h('span', { class: 'state ' + stateClass(deliveryLook[d.state]), title: d.next_attempt_time
          ? 'next attempt ' + d.next_attempt_time : '' }, d.state)),
        h('td', { class: 'hide-narrow' }, String(d.attempts)),
        h('td', {}, d.last_error || (d.last_status === null ? '—' : String(d.last_status)),
          d.last_attempt_time ? [' ', time(d.last_attempt_time)] : null),
        h('td', {}, d.state === 'delivering' ? null : h('button', { type: 'button', class: 'retry', onclick: async () => {
          try {
            await api('POST', `/api/v1/notifications/${enc(d.notification_id)}/retry`);
            flash('Retrying ' + d.target);
            await refresh();
          } catch (error) { flash(error.message, 'error'); }
        } }, 'Retry'))))))));
  }

  async function loadStored() {
    const [stdout, stderr] = await Promise.all(['stdout', 'stderr'].map((stream) =>
      fetch(`/api/v1/executions/${enc(id)}/output?stream=${stream}`).then((r) => r.text())));
    // One assignment of plain text: a megabyte renders at once, and nothing in it is markup.
    panes.stdout.textContent = stdout;
    panes.stderr.textContent = stderr;
  }

  function follow() {
    panes.stdout.textContent = '';
    panes.stderr.textContent = '';
    source = new EventSource(`/api/v1/executions/${enc(id)}/output`);
    source.addEventListener('output', (event) => {
      const data = JSON.parse(event.data);
      const pane = panes[data.stream];
      const atBottom = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
      pane.append(document.createTextNode(data.text));
      if (atBottom) pane.scrollTop = pane.scrollHeight;
    });
    source.addEventListener('end', async (event) => {
      source.close();
      source = null;
      render({ ...execution, ...JSON.parse(event.data) });
      await refresh();
    });
    source.onerror = () => { if (source) { source.close(); source = null; } };
  }

  async function refresh() {
    const e = await get(`/api/v1/executions/${enc(id)}`);
    const wasRunning = execution && (execution.state === 'running' || execution.state === 'scheduled');
    const running = e.state === 'running' || e.state === 'scheduled';
    if (running && !source) follow();
    if (!running && (wasRunning || execution === null) && !source) await loadStored();
    render(e);
  }

  try {
    await refresh();
  } catch (error) {
    replace(view, h('h1', {}, 'Execution not found'), h('p', { class: 'field-error' }, error.message));
    return {};
  }
  return { refresh, dispose: () => source && source.close() };
}
