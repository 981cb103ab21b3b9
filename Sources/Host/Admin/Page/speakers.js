// The Speakers view. A speaker's card joins four sources: bridge/info (which speakers exist),
// the `plugins` answer (which plugin drives it and whether that plugin has a `volume` command),
// and the retained `<base>/<id>/state` and `<base>/<id>/availability` the driver publishes.
// Cards are updated in place, never rebuilt, so a slider being moved keeps its focus.

import { subscribe, command, el } from './feed.js';
import { refresh as refreshPlugins, onPlugins } from './plugins.js';

const speakers = new Map();   // id -> {id, name, model, driver, volumeCommand, state, available}
const cards = new Map();      // id -> {root, parts…}
let list;
let infoIDs = new Set();     // the speakers of the latest bridge/info
let listed = '';             // the ids and names the announce form was last told about

export function setup() {
  list = document.getElementById('speaker-list');
  subscribe('bridge/info', info => {
    learnInfo(info);
    // bridge/info is republished on every connect; the plugins answer is the fresher word on
    // drivers and their commands (a reload changes them without a new bridge/info).
    refreshPlugins();
  });
  onPlugins(learnPlugins);
  subscribe(rest => /^[^/]+\/(state|availability)$/.test(rest) && !rest.startsWith('bridge/'),
    (payload, rest) => {
      const [id, kind] = rest.split('/');
      const s = speaker(id);
      if (kind === 'state') s.state = payload && typeof payload === 'object' ? payload : { state: String(payload) };
      else s.available = payload === 'online' ? true : payload === 'offline' ? false : null;
      update(s);
    });
}

function speaker(id, name) {
  let s = speakers.get(id);
  if (!s) {
    s = { id, name: name || id, model: '', driver: '', volumeCommand: false, state: null, available: null };
    speakers.set(id, s);
  }
  return s;
}

/** The speakers in the announce form's select, in this view's order. */
export function all() { return [...speakers.values()].sort(byName); }

const changeHandlers = [];
/** fn() when a speaker appeared or was renamed (the announce form lists them). */
export function onChange(fn) { changeHandlers.push(fn); }

function learnInfo(info) {
  infoIDs = new Set(((info && info.speakers) || []).map(i => i.id));
  for (const i of (info && info.speakers) || []) {
    const s = speaker(i.id, i.name);
    s.name = i.name || i.id;
    s.model = i.model || '';
  }
  // bridge/info carries the loaded plugins too: enough to draw drivers before `plugins` answers.
  if (info && Array.isArray(info.plugins)) learnPlugins(info.plugins);
  else redraw();
}

function learnPlugins(loaded) {
  const driven = new Set();
  for (const p of loaded) {
    const volume = (p.commands || []).some(c => c.name === 'volume');
    for (const ps of p.speakers || []) {
      const s = speaker(ps.id, ps.name);
      if (ps.name) s.name = ps.name;
      s.driver = p.name || p.id;
      s.volumeCommand = volume;
      driven.add(ps.id);
    }
  }
  // The list is the speakers of the plugins loaded now: one whose plugin was unloaded goes, and
  // so does a speaker known only from a broker's retained message of an earlier run.
  for (const id of [...speakers.keys()]) {
    if (!driven.has(id) && !infoIDs.has(id)) {
      speakers.delete(id);
      cards.get(id)?.root.remove();
      cards.delete(id);
    }
  }
  redraw();
}

function byName(a, b) { return a.name.localeCompare(b.name) || a.id.localeCompare(b.id); }

function redraw() {
  const ordered = all();
  for (const s of ordered) if (!cards.has(s.id)) cards.set(s.id, card(s));
  // Appending existing nodes moves them; the focused slider stays the same element.
  const current = [...list.children].filter(c => c.dataset.speaker !== undefined);
  if (current.length !== ordered.length || current.some((c, i) => c.dataset.speaker !== ordered[i].id)) {
    list.replaceChildren(...ordered.map(s => cards.get(s.id).root));
  }
  if (ordered.length === 0) list.replaceChildren(el('li', { class: 'empty', text: 'No speakers reported yet.' }));
  for (const s of ordered) update(s);
  // Only a real change reaches the announce form: rebuilding its options under a user's clicks
  // would be noticed.
  const names = ordered.map(s => `${s.id}\t${s.name}`).join('\n');
  if (names !== listed) {
    listed = names;
    for (const fn of changeHandlers) fn();
  }
}

function card(s) {
  const parts = {
    name: el('h3', { class: 'speaker-name' }),
    availability: el('span', { class: 'availability' }),
    driver: el('dd', { class: 'driver' }),
    transport: el('dd', { class: 'transport' }),
    group: el('dd', { class: 'group' }),
    mute: el('dd', { class: 'mute' }),
    nowPlaying: el('dd', { class: 'now-playing' }),
    volumeRow: el('div', { class: 'volume-row' }),
    result: el('p', { class: 'command-result', 'aria-live': 'polite' }),
  };
  const root = el('li', { class: 'card speaker', dataset: { speaker: s.id } },
    el('div', { class: 'card-head' }, parts.name, parts.availability),
    el('dl', { class: 'facts' },
      el('dt', { text: 'Driver' }), parts.driver,
      el('dt', { text: 'State' }), parts.transport,
      el('dt', { text: 'Group' }), parts.group,
      el('dt', { text: 'Mute' }), parts.mute,
      el('dt', { text: 'Playing' }), parts.nowPlaying),
    parts.volumeRow, parts.result);
  const entry = { root, parts, slider: null };
  cards.set(s.id, entry);
  return entry;
}

function update(s) {
  const entry = cards.get(s.id);
  if (!entry) { redraw(); return; }
  const { parts } = entry;
  const st = s.state || {};
  parts.name.textContent = s.name;
  parts.name.title = s.model ? `${s.id} · ${s.model}` : s.id;
  parts.availability.textContent = s.available === true ? 'online' : s.available === false ? 'offline' : 'unknown';
  parts.availability.dataset.available = String(s.available === true);
  parts.driver.textContent = s.driver || '—';
  const transport = st.transport ?? st.transport_state ?? st.state;
  parts.transport.textContent = transport == null ? '—'
    : st.offline_reason ? `${transport} (${st.offline_reason})` : String(transport);
  // Sonos sends `group` as {coordinator, members} beside the readable `group_name`.
  parts.group.textContent = st.group_name ?? (typeof st.group === 'string' ? st.group : '—');
  parts.mute.textContent = st.mute === true ? 'muted' : st.mute === false ? 'not muted' : '—';
  parts.nowPlaying.textContent = [st.title, st.artist].filter(Boolean).join(' — ') || '—';
  if (s.volumeCommand && !entry.slider) entry.slider = slider(s, entry);
  if (!s.volumeCommand && entry.slider) { parts.volumeRow.replaceChildren(); entry.slider = null; }
  if (entry.slider) {
    // A speaker on a fixed line-level output ignores volume commands; say so instead of pretending.
    entry.slider.input.disabled = st.fixed_volume === true;
    entry.slider.input.title = st.fixed_volume === true ? 'fixed volume (line-level output)' : '';
  }
  if (entry.slider && typeof st.volume === 'number' && !entry.slider.input.dataset.busy) {
    entry.slider.input.value = String(st.volume);
    entry.slider.input.classList.remove('unknown');
    entry.slider.output.textContent = String(st.volume);
  }
}

function slider(s, entry) {
  const id = `volume-${s.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  // Until the driver reports a volume the thumb's place means nothing; it is drawn dimmed.
  const input = el('input', { type: 'range', name: 'volume', id, min: 0, max: 100, step: 1, value: 0, class: 'unknown' });
  const output = el('output', { for: id, class: 'volume-value', text: '–' });
  const label = el('label', { for: id }, 'Volume', el('span', { class: 'visually-hidden', text: ` of ${s.name}` }));
  let sending = false, next = null;
  // While the user moves it, the driver's state updates must not pull the thumb back.
  const busy = () => { input.dataset.busy = '1'; };
  input.addEventListener('pointerdown', busy);
  input.addEventListener('keydown', busy);
  input.addEventListener('blur', () => { if (!sending) delete input.dataset.busy; });
  input.addEventListener('input', () => { output.textContent = input.value; });
  // Keyboard arrows fire `change` at every step. Commands to one speaker go one at a time, and
  // steps made meanwhile collapse into the newest level, so the speaker ends where the thumb is.
  input.addEventListener('change', async () => {
    next = Number(input.value);
    input.classList.remove('unknown');
    if (sending) return;
    sending = true;
    while (next !== null) {
      const level = next;
      next = null;
      entry.parts.result.textContent = `volume ${level}: sending…`;
      try {
        const envelope = await command(s.id, { command: 'volume', level });
        entry.parts.result.textContent = `volume ${level}: ${envelope.status === 'ok' ? 'ok' : envelope.error}`;
      } catch (err) {
        entry.parts.result.textContent = `volume ${level}: ${err.message}`;
      }
    }
    sending = false;
    delete input.dataset.busy;
  });
  entry.parts.volumeRow.replaceChildren(label, input, output);
  return { input, output };
}
