// The announcement list: one entry per announcement id, built from the events on
// `<base>/bridge/event/announcement` (the replay brings the last 200, oldest first, then live
// ones). Each event replaces what the entry shows: queued → playing → done | failed, and the
// final event's per-speaker `results` and `not_restored` notes.

import { subscribe, el, when } from './feed.js';

const MAX = 200;
const STORE = 'speakerbridge.sentTexts';
const entries = new Map();   // id -> {root, parts}
// id -> the text this page sent (events do not carry it). Kept in the tab's session storage so
// a reload of the page still shows what was said.
const texts = new Map(loadTexts());
let list;

export function setup() {
  list = document.getElementById('announcement-list');
  subscribe('bridge/event/announcement', event => {
    if (event && typeof event === 'object' && typeof event.id === 'string') show(event);
  });
}

/** Remembers the text of an announcement this page sent, shown beside its id. */
export function sent(id, text) {
  texts.set(id, text);
  for (const old of [...texts.keys()].slice(0, Math.max(0, texts.size - MAX))) texts.delete(old);
  try { sessionStorage.setItem(STORE, JSON.stringify([...texts])); } catch { /* storage off or full */ }
  const entry = entries.get(id);
  if (entry) { entry.parts.text.textContent = text; entry.parts.text.hidden = false; }
}

function show(event) {
  let entry = entries.get(event.id);
  if (!entry) {
    entry = create(event.id);
    entries.set(event.id, entry);
    // Newest first: an id seen for the first time is the newest announcement.
    list.prepend(entry.root);
    while (entries.size > MAX) {
      const oldest = list.lastElementChild;
      entries.delete(oldest.dataset.announcement);
      oldest.remove();
    }
    list.querySelector(':scope > .empty')?.remove();
  }
  const { root, parts } = entry;
  root.dataset.state = event.state;
  parts.state.textContent = event.state;
  parts.at.textContent = when(event.at);
  parts.at.dateTime = event.at || '';
  parts.speakers.textContent = (event.speakers || []).join(', ') || '—';
  const results = event.results && typeof event.results === 'object' ? Object.entries(event.results) : [];
  parts.reason.textContent = event.reason || '';
  parts.reason.hidden = !event.reason;
  const notes = event.not_restored && typeof event.not_restored === 'object' ? event.not_restored : {};
  parts.results.replaceChildren(...results.flatMap(([name, outcome]) => [
    el('dt', { text: name }),
    el('dd', { dataset: { outcome: outcome === 'done' ? 'done' : String(outcome).startsWith('skipped') ? 'skipped' : 'failed' } },
      String(outcome),
      notes[name] ? el('span', { class: 'not-restored', text: ` — not restored: ${notes[name]}` }) : null),
  ]));
  // A note for a speaker without a result line still has to be seen.
  for (const [name, note] of Object.entries(notes)) {
    if (!results.some(([n]) => n === name)) {
      parts.results.append(el('dt', { text: name }), el('dd', {}, el('span', { class: 'not-restored', text: `not restored: ${note}` })));
    }
  }
  parts.results.hidden = parts.results.childElementCount === 0;
}

function create(id) {
  const parts = {
    text: el('p', { class: 'text', text: texts.get(id) || '', hidden: !texts.has(id) }),
    state: el('span', { class: 'state badge' }),
    at: el('time', { class: 'at' }),
    speakers: el('span', { class: 'speakers' }),
    reason: el('p', { class: 'reason' }),
    results: el('dl', { class: 'results' }),
  };
  const root = el('li', { class: 'announcement', dataset: { announcement: id } },
    el('div', { class: 'announcement-head' }, parts.state, el('code', { class: 'id', text: id }), parts.at),
    parts.text,
    el('p', { class: 'meta' }, 'Speakers: ', parts.speakers),
    parts.reason, parts.results);
  return { root, parts };
}

export function showEmpty() {
  if (entries.size === 0 && !list.querySelector('.empty')) {
    list.append(el('li', { class: 'empty', text: 'No announcements yet.' }));
  }
}

function loadTexts() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORE) || '[]');
    return Array.isArray(stored) ? stored.filter(e => Array.isArray(e) && e.length === 2) : [];
  } catch { return []; }
}
