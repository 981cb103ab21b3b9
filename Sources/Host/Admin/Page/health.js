// The Health view: the `health` answer rendered, and the daemon's last log lines at a chosen
// level (`log` request). Both are asked every 3 s, and only while the view is shown: a page left
// open on another view should not keep the daemon answering.

import { request, el, when } from './feed.js';

const EVERY_MS = 3000;
let status, details, level, lines, linesNote, problem;
let timer = null;
let inFlight = false;

export function setup() {
  status = document.getElementById('health-status');
  details = document.getElementById('health-details');
  level = document.getElementById('log-level');
  lines = document.getElementById('log-lines');
  linesNote = document.getElementById('log-note');
  problem = document.getElementById('health-problem');
  level.addEventListener('change', () => {
    lines.replaceChildren();
    linesNote.textContent = 'Loading…';
    // A question in flight asked for the old level; tick() asks again once it is answered.
    tick();
  });
}

export function start() {
  if (timer !== null) return;
  tick();
  timer = setInterval(tick, EVERY_MS);
}

export function stop() {
  clearInterval(timer);
  timer = null;
}

async function tick() {
  // A slow daemon must not pile questions up behind each other.
  if (inFlight) return;
  inFlight = true;
  const asked = level.value;
  try {
    const [health, log] = await Promise.allSettled([request('health'), request('log', { level: asked, limit: 200 })]);
    if (health.status === 'fulfilled' && health.value.status === 'ok') {
      problem.textContent = '';
      showHealth(health.value.data || {});
    } else {
      problem.textContent = `health: ${reason(health)}`;
    }
    if (asked !== level.value) return;  // the level changed meanwhile: this answer is for the old one
    if (log.status === 'fulfilled' && log.value.status === 'ok') showLog((log.value.data || {}).lines || []);
    else showLogProblem(`The log lines are not available: ${reason(log)}`);
  } finally {
    inFlight = false;
    if (asked !== level.value && timer !== null) tick();
  }
}

function reason(settled) {
  return settled.status === 'rejected' ? settled.reason.message : settled.value.error || 'no answer';
}

function showHealth(h) {
  const verdict = h.status || (h.healthy ? 'healthy' : 'unhealthy');
  status.textContent = verdict;
  status.dataset.status = verdict;
  const j = h.journal || {}, o = h.outbound || {};
  const d = h.last_disconnect;
  const rows = [
    ['Broker', `${h.broker ?? ''}${h.mqtt_protocol ? ` (MQTT ${h.mqtt_protocol})` : ''}`],
    ['Brokers', (h.brokers || []).join(', ') || h.broker],
    ['Last failover', failover(h.failover)],
    ['Connected', `${h.connected ? 'yes' : 'no'}, since ${when(h.since)}`],
    ['Reconnects', `${h.reconnects ?? 0} (${h.connect_attempts ?? 0} connect attempts)`],
    ['Last disconnect', d ? `${d.name} (rc ${d.code}): ${d.reason}${d.at ? `, ${when(d.at)}` : ''}` : 'none'],
    ['Disconnects', Object.entries(h.disconnects || {}).map(([k, v]) => `${k} × ${v}`).join(', ') || 'none'],
    ['Session resumed', h.session_resumed ? 'yes' : 'no'],
    ['Journal', `${j.pending ?? 0} pending, ${j.recorded_total ?? 0} recorded, ${j.duplicates_total ?? 0} duplicates, `
      + `${j.quarantined ?? 0} quarantined; durability ${j.durability ?? '?'}`],
    ['Outbound', `${o.pending ?? 0} pending of ${o.max ?? '?'}, ${o.dropped_total ?? 0} dropped, ${o.coalesced_total ?? 0} coalesced`],
    ['Twin', h.twin ? `suspected${h.warning ? `: ${h.warning}` : ''}` : 'none'],
    ['Embedded broker', embedded(h.embedded_broker)],
    ['Uptime', h.uptime_s != null ? duration(h.uptime_s) : ''],
  ];
  const problems = h.problems || [];
  details.replaceChildren(
    ...rows.flatMap(([term, value]) => [el('dt', { text: term }), el('dd', { text: String(value ?? '') })]),
    el('dt', { text: 'Problems' }),
    el('dd', {}, problems.length ? el('ul', { class: 'problems' }, ...problems.map(p => el('li', { text: p }))) : 'none'));
}

// The last move from one broker of the list to another; the daemon stays where it moved to.
function failover(f) {
  if (!f) return 'none';
  return `${f.from} → ${f.to}: ${f.reason}${f.at ? `, ${when(f.at)}` : ''}`;
}

function embedded(b) {
  if (!b) return 'not used';
  return `${b.running ? 'running' : 'not running'}, ${b.restarts ?? 0} restarts${b.last_error ? `; last error: ${b.last_error}` : ''}`;
}

function duration(seconds) {
  const s = Math.floor(seconds);
  const parts = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'min'], [s % 60, 's']];
  return parts.filter(([n], i) => n > 0 || i === 3).map(([n, u]) => `${n} ${u}`).join(' ');
}

function showLog(entries) {
  // Follow the tail only when the reader is at the bottom; someone scrolled up is reading.
  const atBottom = lines.scrollHeight - lines.scrollTop - lines.clientHeight < 24;
  lines.replaceChildren(...entries.map(line => el('li', { dataset: { level: line.level } },
    el('time', { dateTime: line.at, text: when(line.at) }), ' ',
    el('span', { class: 'level', text: line.level }), ' ',
    el('span', { class: 'label', text: line.label }), ' ',
    el('span', { class: 'message', text: line.message }))));
  // The note is outside the list: every item of #log-lines is a log line with its level.
  linesNote.textContent = entries.length === 0 ? `No lines at ${level.value} or above.` : '';
  if (atBottom) lines.scrollTop = lines.scrollHeight;
}

function showLogProblem(text) {
  lines.replaceChildren();
  linesNote.textContent = text;
}
