// DOM helpers. Every piece of data is inserted as text (textContent / text nodes), never parsed as HTML:
// a job named <img src=x onerror=alert(1)> is shown as those characters and runs nothing.

/** Creates an element: h('a', {href: '#/x', class: 'y', onclick: f}, 'text', child…). */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  setProps(element, props);
  append(element, children);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';
/** The same for SVG elements. */
export function s(tag, props = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  setProps(element, props);
  append(element, children);
  return element;
}

function setProps(element, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.setAttribute('class', value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'value') element.value = value;
    else if (key === 'checked') element.checked = !!value;
    else if (key === 'text') element.textContent = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** A short message in the corner. */
export function flash(message, kind = 'info') {
  const box = document.getElementById('flash');
  const item = h('div', { class: kind }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 3500);
}

const STATES = ['scheduled', 'running', 'succeeded', 'failed', 'timeout', 'stopped', 'skipped', 'missed',
  'interrupted', 'scheduled error'];
export { STATES };

export function stateClass(state) {
  return 'state-' + String(state || 'none').replace(/\s+/g, '-');
}

export function stateBadge(state) {
  return h('span', { class: 'state ' + stateClass(state) }, state || '—');
}

/** A time as the browser's local time, with the original as a tooltip. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  if (isNaN(date)) return h('span', {}, iso);
  return h('time', { datetime: iso, title: iso }, date.toLocaleString());
}

export function seconds(value) {
  if (value === null || value === undefined) return '—';
  if (value < 1) return Math.round(value * 1000) + ' ms';
  if (value < 120) return value.toFixed(value < 10 ? 2 : 1) + ' s';
  return Math.floor(value / 60) + ' min ' + Math.round(value % 60) + ' s';
}

export function exitText(execution) {
  if (execution.exit_code !== null && execution.exit_code !== undefined) return 'exit ' + execution.exit_code;
  if (execution.signal) return 'signal ' + execution.signal;
  return '—';
}

/** Local ISO 8601 with offset, for the API's time ranges. */
export function isoWithOffset(date) {
  const pad = (n) => String(Math.abs(Math.trunc(n))).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
    `${pad(date.getMinutes())}:${pad(date.getSeconds())}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}
