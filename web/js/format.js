// Formatting of API values as text, and the API's vocabulary: no DOM here (dom.js builds elements).

import { get } from './api.js';

let states = null;

/** Execution states, as the API's OpenAPI document lists them (read once). */
export async function executionStates() {
  if (!states) {
    const doc = await get('/api/v1/openapi.json');
    states = doc.components.schemas.ExecutionState.enum;
  }
  return states;
}

export function stateClass(state) {
  return 'state-' + String(state || 'none').replace(/\s+/g, '-');
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
