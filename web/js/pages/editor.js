// Add and edit a job created through the API. The schedule is checked as it is typed (the API's own message at
// the field, what it means, the next fire times); the API's errors are shown next to their field.
import { api, get, enc } from '../api.js';
import { h, replace, flash } from '../dom.js';

const FIELDS = [
  // [key, label, kind, hint]
  ['job_id', 'Id', 'text', 'Letters, digits, _ . - (left empty: one is made)'],
  ['name', 'Name', 'text', ''],
  ['schedule', 'Schedule', 'text', 'Cron (5 or 6 fields), @daily…, @every 90s, @reboot; empty with "Runs after": triggered'],
  ['after', 'Runs after', 'text', 'Job ids, comma separated: runs once each has succeeded (with a schedule: gates it)'],
  ['after_window', 'Dependency window', 'text', 'An upstream success older than this does not count (default 24h)'],
  ['after_wait', 'Dependency wait', 'text', 'With a schedule: how long an instant waits for them (default 0s)'],
  ['timezone', 'Time zone', 'text', 'IANA name; empty: the server default'],
  ['command', 'Command', 'textarea', 'Run by /bin/sh -c; or a JSON array (an argv run without a shell)'],
  ['description', 'Description', 'textarea', ''],
  ['working_dir', 'Working directory', 'text', ''],
  ['timeout', 'Timeout', 'text', 'e.g. 90s, 15m, 1h30m; empty: none'],
  ['retries', 'Retries', 'number', 'Extra attempts after a failure'],
  ['retry_delay', 'Retry delay', 'text', 'First delay, doubled each attempt (default 10s)'],
  ['overlap', 'If still running', 'select:skip,allow,queue,replace', 'skip, allow, queue or replace'],
  ['catchup', 'Missed runs', 'select:skip,latest,all', 'After downtime: skip, latest or all'],
  ['jitter', 'Jitter', 'text', 'Random delay up to this'],
  ['max_output', 'Output cap', 'text', 'Per stream, e.g. 1MiB'],
  ['user', 'Run as user', 'text', 'The daemon must be root'],
  ['tags', 'Tags', 'text', 'Comma separated'],
  ['env', 'Environment', 'textarea', 'One KEY=value per line'],
  ['enabled', 'Enabled', 'checkbox', ''],
  // Notifications and health (SPEC-level keys in the README).
  ['mail_to', 'Mail output to', 'text', "cron's MAILTO: mailed when a run prints something"],
  ['on_failure', 'On failure, notify', 'text', 'Notifier names from the server configuration, comma separated'],
  ['warn_after', 'Warn after', 'text', 'Alert while a run is still running this long, e.g. 45m'],
  ['start_grace', 'Start grace', 'text', 'Alert when a due run has not started this long after its time'],
  ['alert_after_failures', 'Alert after failures', 'number', 'Alert once after this many failing runs in a row'],
  ['max_age', 'Max age', 'text', 'Alert when no run has succeeded for this long, e.g. 26h'],
];

export async function editorPage(view, id) {
  const editing = id !== undefined;
  let job = null;
  if (editing) {
    job = await get(`/api/v1/jobs/${enc(id)}`);
    if (job.source === 'file') {
      replace(view, h('h1', {}, 'Edit ', job.name),
        h('p', { class: 'note' }, `This job is defined in ${job.file}:${job.line}. Edit that file; Tock reloads it.`));
      return {};
    }
  }
  const inputs = {};
  const errors = {};
  const general = h('p', { class: 'field-error', id: 'form-error', role: 'alert' });
  const schedulePreview = h('div', { id: 'schedule-preview', 'aria-live': 'polite' });

  function control(key, kind) {
    if (kind === 'textarea') return h('textarea', { name: key, id: 'field-' + key, rows: key === 'command' ? 3 : 2 });
    if (kind === 'checkbox') return h('input', { type: 'checkbox', name: key, id: 'field-' + key, checked: true });
    if (kind.startsWith('select:')) {
      return h(
        'select',
        { name: key, id: 'field-' + key },
        kind
          .slice(7)
          .split(',')
          .map((v) => h('option', { value: v }, v))
      );
    }
    return h('input', { type: kind, name: key, id: 'field-' + key, autocomplete: 'off', spellcheck: 'false',
      min: kind === 'number' ? 0 : undefined });
  }

  const rows = FIELDS.filter(([key]) => !(editing && key === 'job_id')).map(([key, label, kind, hint]) => {
    inputs[key] = control(key, kind);
    errors[key] = h('span', { class: 'field-error', id: 'error-' + key, role: 'alert' });
    const labelled =
      kind === 'checkbox'
        ? h('label', { class: 'inline-field' }, inputs[key], label, errors[key])
        : h(
            'label',
            { for: 'field-' + key },
            label,
            hint ? h('span', { class: 'hint' }, hint) : null,
            inputs[key],
            errors[key],
            key === 'schedule' ? schedulePreview : null
          );
    return labelled;
  });

  if (job) {
    for (const [key, , kind] of FIELDS) {
      const input = inputs[key];
      if (!input) continue;
      const value = job[key];
      if (kind === 'checkbox') input.checked = value !== false;
      else if (key === 'tags' || key === 'after') input.value = (value || []).join(', ');
      else if (key === 'env') input.value = Object.entries(value || {}).map(([k, v]) => `${k}=${v}`).join('\n');
      else if (key === 'on_failure') input.value = ((value && value.notify) || []).join(', ');
      else if (key === 'command' && value === undefined && job.exec) input.value = JSON.stringify(job.exec);
      else if (value !== null && value !== undefined) input.value = String(value);
    }
  } else {
    inputs.overlap.value = 'skip';
    inputs.catchup.value = 'skip';
  }

  const submit = h('button', { type: 'submit', class: 'primary', id: 'save' }, editing ? 'Save' : 'Add job');
  const form = h(
    'form',
    { class: 'editor', novalidate: true },
    rows,
    general,
    h(
      'div',
      { class: 'row' },
      submit,
      h('a', { class: 'button', href: editing ? `#/jobs/${enc(id)}` : '#/jobs' }, 'Cancel')
    )
  );
  replace(view, h('h1', {}, editing ? `Edit ${job.name}` : 'Add a job'), form);

  // Live schedule check through the API's preview.
  let pending = 0;
  async function checkSchedule() {
    const expr = inputs.schedule.value.trim();
    const ticket = ++pending;
    if (!expr) { errors.schedule.textContent = ''; replace(schedulePreview); return; }
    const tz = inputs.timezone.value.trim();
    try {
      const preview = await get(`/api/v1/schedule/preview?expr=${enc(expr)}&count=5` + (tz ? `&tz=${enc(tz)}` : ''));
      if (ticket !== pending) return;
      errors.schedule.textContent = '';
      replace(
        schedulePreview,
        h('span', { class: 'ok-text', id: 'schedule-description' }, '✓ ', preview.description),
        preview.next_run_times.length
          ? h('ul', { class: 'small mono', id: 'schedule-next' }, preview.next_run_times.map((t) => h('li', {}, t)))
          : null
      );
    } catch (error) {
      if (ticket !== pending) return;
      replace(schedulePreview);
      if (error.field === 'tz') errors.timezone.textContent = error.message;
      else errors.schedule.textContent = error.message;
    }
  }
  let timer;
  const soon = () => { clearTimeout(timer); timer = setTimeout(checkSchedule, 250); };
  inputs.schedule.addEventListener('input', soon);
  inputs.timezone.addEventListener('input', () => { errors.timezone.textContent = ''; soon(); });
  if (editing) checkSchedule();

  function body() {
    const out = {};
    for (const [key, , kind] of FIELDS) {
      const input = inputs[key];
      if (!input) continue;
      if (kind === 'checkbox') { out[key] = input.checked; continue; }
      const text = input.value.trim();
      if (!text && key === 'on_failure' && job && job.on_failure) {
        const { notify, ...rest } = job.on_failure;
        if (Object.keys(rest).length) out[key] = rest;
        continue;
      }
      if (!text) continue;
      if (key === 'retries' || key === 'alert_after_failures') out[key] = Number(text);
      else if (key === 'on_failure') {
        // The notifier names; a webhook, command or mail set in the job's JSON stays as it was.
        out[key] = { ...((job && job.on_failure) || {}), notify: text.split(',').map((t) => t.trim()).filter(Boolean) };
      }
      else if (key === 'tags' || key === 'after') out[key] = text.split(',').map((t) => t.trim()).filter(Boolean);
      else if (key === 'env') {
        out[key] = {};
        for (const line of input.value.split('\n')) {
          const eq = line.indexOf('=');
          if (line.trim() && eq > 0) out[key][line.slice(0, eq).trim()] = line.slice(eq + 1);
          else if (line.trim()) out[key][line.trim()] = '';
        }
      } else if (key === 'command' && text.startsWith('[')) {
        try { out.exec = JSON.parse(text); } catch { out[key] = input.value; }
      } else if (key === 'command') out[key] = input.value;
      else out[key] = text;
    }
    return out;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const error of Object.values(errors)) error.textContent = '';
    general.textContent = '';
    submit.disabled = true;
    try {
      const result = editing
        ? await api('PUT', `/api/v1/jobs/${enc(id)}`, body())
        : await api('POST', '/api/v1/jobs', body());
      flash(editing ? 'Saved' : 'Added ' + result.job_id);
      location.hash = `#/jobs/${enc(result.job_id)}`;
    } catch (error) {
      const list =
        error.errors && error.errors.length ? error.errors : [{ field: error.field, message: error.message }];
      let shown = false;
      for (const problem of list) {
        const key = problem.field === 'exec' ? 'command' : problem.field;
        if (key && errors[key]) {
          errors[key].textContent = (errors[key].textContent ? errors[key].textContent + '; ' : '') + problem.message;
          if (!shown) inputs[key].focus();
          shown = true;
        }
      }
      if (!shown) general.textContent = error.message;
    } finally {
      submit.disabled = false;
    }
  });
  return {};
}
