// DOM helpers. Every piece of data is inserted as text (textContent / text nodes), never parsed as HTML:
// a job named <img src=x onerror=alert(1)> is shown as those characters and runs nothing.

import { stateClass } from './format.js';

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
