// The page's one connection to the daemon: the event stream (GET /api/events) carries every
// message the daemon publishes, shaped {topic, payload, retain}, exactly as MQTT subscribers see
// it; requests go out through POST /api/request and their answers come back on that stream, so
// the page uses the MQTT contract and nothing else.

const retained = new Map();     // topic -> payload: the latest retained message of each topic
const subscribers = [];         // {match(relative topic), fn(payload, relative topic, retain)}
const readyHandlers = [];
const early = [];               // messages that came before the base topic was known
const waiting = new Map();      // "<response topic>\n<transaction>" -> {resolve, reject, timer}
const ANSWER_TIMEOUT_MS = 30000;

let base = null;                // the base topic, learnt from the replayed bridge/info
let baseKnown;
// Requests made before the replay brought bridge/info wait for it.
const baseReady = new Promise(resolve => { baseKnown = resolve; });
let source = null;
let statusElement = null;

/** The latest retained payload of `<base>/<rest>`. */
export function latest(rest) { return base === null ? undefined : retained.get(`${base}/${rest}`); }

/**
 * Calls fn(payload, topic, retain) for each message whose topic, relative to the base, equals
 * `rest`, or starts with it when `rest` ends in '/'. A function matches on the relative topic.
 */
export function subscribe(rest, fn) {
  const match = typeof rest === 'function' ? rest
    : rest.endsWith('/') ? t => t.startsWith(rest) : t => t === rest;
  subscribers.push({ match, fn });
}

/** fn() after every replay (the first connection's and each reconnection's). */
export function onReady(fn) { readyHandlers.push(fn); }

export function connect(status) {
  statusElement = status;
  showLive(false, 'connecting…');
  open();
}

function open() {
  source = new EventSource('/api/events');
  source.onmessage = e => deliver(e.data);
  source.addEventListener('ready', () => {
    showLive(true, 'live');
    for (const fn of readyHandlers) safely(fn);
  });
  source.onerror = () => {
    showLive(false, 'reconnecting…');
    // EventSource retries by itself after a dropped stream, but gives up for good after an
    // HTTP error (a 401 once the cookie is gone, a 503 at shutdown): then we look why and retry.
    if (source.readyState === EventSource.CLOSED) {
      source = null;
      setTimeout(checkAccessThenReopen, 3000);
    }
  };
}

async function checkAccessThenReopen() {
  try {
    const r = await fetch('/', { cache: 'no-store', credentials: 'same-origin' });
    if (r.status === 401) { location.assign('/login'); return; }
    if (r.status === 429) {
      // Someone at this address presented wrong tokens: the daemon holds it back for a while.
      showLive(false, 'held back: too many wrong tokens from this address');
      setTimeout(checkAccessThenReopen, 10000);
      return;
    }
  } catch { /* the daemon is away; keep trying */ }
  open();
}

function showLive(live, text) {
  if (!statusElement) return;
  statusElement.textContent = text;
  statusElement.dataset.live = String(live);
}

function deliver(data) {
  let message;
  try { message = JSON.parse(data); } catch { return; }
  const { topic: t, payload, retain } = message;
  if (typeof t !== 'string') return;
  if (retain) retained.set(t, payload);
  answer(t, payload);
  if (base === null) {
    // The replay may start with other topics than bridge/info; they wait until the base is known.
    if (early.length < 10000) early.push([t, payload, retain]);
    if (t.endsWith('/bridge/info') && payload && typeof payload.base_topic === 'string') {
      base = payload.base_topic;
      baseKnown(base);
      for (const m of early.splice(0)) publish(...m);
    }
    return;
  }
  publish(t, payload, retain);
}

function publish(t, payload, retain) {
  if (!t.startsWith(base + '/')) return;
  const rest = t.slice(base.length + 1);
  for (const s of subscribers) if (s.match(rest)) safely(() => s.fn(payload, rest, retain));
}

function safely(fn) {
  // One view's bug must not stop the others from seeing the message.
  try { fn(); } catch (err) { console.error(err); }
}

function answer(t, payload) {
  if (!payload || typeof payload !== 'object' || typeof payload.transaction !== 'string') return;
  const key = `${t}\n${payload.transaction}`;
  const w = waiting.get(key);
  if (!w) return;
  waiting.delete(key);
  clearTimeout(w.timer);
  w.resolve(payload);
}

/** A fresh `page-…` id for a transaction or an announcement. */
export function newID() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return 'page-' + Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

/** POST /api/request; resolves when the daemon accepted it (202), rejects with its error text. */
async function post(requestTopic, payload) {
  let r;
  try {
    r = await fetch('/api/request', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ topic: requestTopic, payload }),
    });
  } catch {
    throw new Error('the daemon cannot be reached');
  }
  if (r.status === 401) { location.assign('/login'); throw new Error('not signed in'); }
  if (!r.ok) {
    let text = `HTTP ${r.status}`;
    try { const body = await r.json(); if (body && body.error) text = body.error; } catch { /* not JSON */ }
    throw new Error(text);
  }
}

/** Sends a request and resolves with the answer envelope ({status, data|error, transaction}). */
async function ask(requestTopic, responseTopic, fields) {
  const transaction = newID();
  const key = `${responseTopic}\n${transaction}`;
  // Waiting starts before the POST: the answer can be on the stream before the 202 is.
  const answered = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(key);
      reject(new Error('no answer within 30 s'));
    }, ANSWER_TIMEOUT_MS);
    waiting.set(key, { resolve, reject, timer });
  });
  try {
    await post(requestTopic, { ...fields, transaction });
  } catch (err) {
    const w = waiting.get(key);
    if (w) { clearTimeout(w.timer); waiting.delete(key); }
    throw err;
  }
  return answered;
}

/** `<base>/bridge/request/<name>` → the envelope on `<base>/bridge/response/<name>`. */
export async function request(name, fields = {}) {
  const b = await baseReady;
  return ask(`${b}/bridge/request/${name}`, `${b}/bridge/response/${name}`, fields);
}

/** A typed speaker command on `<base>/<speaker>/set` → the envelope on `…/set/response`. */
export async function command(speakerID, fields) {
  const b = await baseReady;
  return ask(`${b}/${speakerID}/set`, `${b}/${speakerID}/set/response`, fields);
}

/**
 * An announcement on `<base>/speak`. There is no response message: its progress arrives as
 * announcement events with this id. Resolves with the id once the daemon accepted it.
 */
export async function speak(fields) {
  const b = await baseReady;
  const id = fields.id || newID();
  await post(`${b}/speak`, { ...fields, id });
  return id;
}

// DOM and formatting helpers shared by the views. They live here because every view module
// already imports this one and the page's file list is fixed.

/** el('li', {class: 'x', dataset: {a: 1}}, 'text', child…): text is always set as text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** A timestamp as local `YYYY-MM-DD HH:MM:SS` (the same in every locale); '' when there is none. */
export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const two = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} `
    + `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
