// The cluster: every node sharing the store (one on SQLite), its lease, clock offset and runs, and the jobs.d jobs
// whose definitions differ between the live nodes.
import { get, enc } from '../api.js';
import { h, replace, time } from '../dom.js';
import { seconds } from '../format.js';

/** Seconds with a sign, for clock offsets (a node ahead of the database is positive). */
function offset(value) {
  if (value === null || value === undefined) return h('span', { class: 'muted' }, '—');
  const text = (value >= 0 ? '+' : '−') + seconds(Math.abs(value));
  return h('span', { class: Math.abs(value) > 1 ? 'warn' : '' }, text);
}

function short(digest) {
  return digest ? h('code', { title: digest }, digest.slice(0, 12)) : h('span', { class: 'muted' }, 'absent');
}

function nodeRow(node) {
  return h('tr', { 'data-node': node.name, 'data-state': node.state },
    h('td', {}, h('strong', {}, node.name), node.self ? h('span', { class: 'muted small' }, ' (this node)') : null,
      node.id ? h('div', { class: 'muted small mono', title: 'Incarnation' }, node.id.slice(0, 8)) : null),
    h('td', {}, h('span', { class: 'node-state node-' + node.state }, node.state),
      node.message ? h('div', { class: 'muted small' }, node.message) : null),
    h('td', {}, node.pid ?? '—'),
    h('td', {}, time(node.started_time)),
    h('td', { class: 'lease-age' }, node.lease_age_seconds === null || node.died_time ? '—'
      : seconds(node.lease_age_seconds)),
    h('td', {}, node.lease_remaining_seconds === null || node.died_time ? '—'
      : node.lease_remaining_seconds < 0 ? h('span', { class: 'warn' }, 'lapsed')
        : seconds(node.lease_remaining_seconds)),
    h('td', { class: 'clock-offset' }, offset(node.clock_offset_seconds)),
    h('td', {}, node.executions_last_hour ?? '—'),
    h('td', {}, node.running ?? '—'),
    h('td', { class: 'job-count' }, node.job_count ?? '—'),
    h('td', {}, node.version ?? '—'),
    h('td', {}, time(node.died_time)));
}

export async function clusterPage(view) {
  const summary = h('p', { id: 'cluster-summary' });
  const nodes = h('div');
  const mismatches = h('section', { id: 'mismatches' });
  replace(view, h('h1', {}, 'Cluster'), summary, nodes, mismatches);

  let lastKey = '';
  async function load() {
    const cluster = await get('/api/v1/cluster');
    // `now` and the ages move on every read: compare the rest to keep the page still when nothing changed.
    const key = JSON.stringify([cluster.nodes.map((n) => [n.id, n.state, n.job_count, n.running,
      n.executions_last_hour, Math.round(n.lease_age_seconds ?? 0), n.clock_offset_seconds?.toFixed(2)]),
    cluster.definition_mismatches]);
    if (key === lastKey) return;
    lastKey = key;
    const live = cluster.nodes.filter((n) => n.state === 'alive' || n.state === 'fenced').length;
    replace(summary, `Store: ${cluster.store}. This node: ${cluster.node.name}. `,
      `${live} live node${live === 1 ? '' : 's'}`,
      cluster.nodes.length > live ? `, ${cluster.nodes.length - live} dead in the last day.` : '.');
    replace(nodes, h('div', { class: 'table-wrap' }, h('table', { id: 'nodes-table' },
      h('thead', {}, h('tr', {}, ['Node', 'State', 'Pid', 'Started', 'Lease age', 'Lease left', 'Clock offset',
        'Runs (1 h)', 'Running', 'jobs.d jobs', 'Version', 'Died'].map((t) => h('th', {}, t)))),
      h('tbody', {}, cluster.nodes.map(nodeRow)))));
    const list = cluster.definition_mismatches;
    replace(mismatches, h('h2', {}, 'Definition mismatches'),
      list.length
        ? [h('p', { class: 'muted small' }, 'jobs.d jobs whose definition differs between live nodes, or that only '
          + 'some define. Each run uses the definition of the node that claimed it (see its definition digest).'),
          h('div', { class: 'table-wrap' }, h('table', { id: 'mismatch-table' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Job'), h('th', {}, 'Digest per node'))),
            h('tbody', {}, list.map((m) => h('tr', { 'data-job': m.job_id },
              h('td', {}, h('a', { href: `#/jobs/${enc(m.job_id)}` }, m.job_id)),
              h('td', {}, m.nodes.map((n) => h('div', {}, n.node, ': ', short(n.digest)))))))))]
        : h('p', { class: 'muted', id: 'no-mismatches' }, 'Every live node defines the same jobs the same way.'));
  }

  await load();
  return { refresh: load };
}
