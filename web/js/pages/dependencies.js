// `after`: what a job waits on and what waits on it, for the jobs list and the job page.
import { enc } from '../api.js';
import { h, time } from '../dom.js';

const link = (id) => h('a', { href: `#/jobs/${enc(id)}`, class: 'mono' }, id);

/** The schedule cell's addition: "after extract, load", "waiting on extract", or why it is blocked. */
export function dependencySummary(job) {
  if (!job.after || !job.after.length) return null;
  const parts = [h('div', { class: 'small', 'data-after': job.after.join(',') }, 'after ',
    job.after.flatMap((id, i) => (i ? [', ', link(id)] : [link(id)])))];
  if (job.blocked) {
    parts.push(h('div', { class: 'state state-failed small', 'data-blocked': '' }, 'blocked: ' + job.blocked));
  } else if (job.waiting_on && job.waiting_on.length) {
    parts.push(h('div', { class: 'muted small', 'data-waiting-on': job.waiting_on.join(',') },
      'waiting on ' + job.waiting_on.join(', ')));
  }
  return parts;
}

/** The job page's section: each upstream with its state and last success, then the jobs that run after this one. */
export function dependencySection(job) {
  const upstream = job.dependencies || [];
  const downstream = job.downstream || [];
  if (!upstream.length && !downstream.length) return null;
  return h('section', { id: 'dependencies' },
    h('h2', {}, 'Dependencies'),
    job.blocked ? h('p', { class: 'field-error', id: 'blocked' }, 'Blocked: ' + job.blocked) : null,
    upstream.length
      ? h('div', {}, h('h3', {}, job.schedule ? 'Runs its instants only after' : 'Runs after'),
        h('ul', { id: 'upstream' }, upstream.map((d) => h('li', { 'data-job-id': d.job_id }, link(d.job_id), ' ',
          !d.known
            ? h('span', { class: 'state state-failed' }, 'unknown job')
            : h('span', { class: d.satisfied ? 'state state-succeeded' : 'state state-scheduled' },
              d.satisfied ? 'satisfied' : 'waiting'),
          ' ', h('span', { class: 'muted small' }, 'last success '),
          d.last_success ? time(d.last_success) : h('span', { class: 'muted small' }, 'never')))))
      : null,
    downstream.length
      ? h('div', {}, h('h3', {}, 'Runs before'),
        h('ul', { id: 'downstream' }, downstream.map((id) => h('li', { 'data-job-id': id }, link(id)))))
      : null);
}
