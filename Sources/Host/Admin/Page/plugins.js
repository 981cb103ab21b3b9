// The Plugins view: what the `plugins` request answers (loaded plugins with their generation,
// speakers and commands; refused files with the reason), and reload buttons that send
// `plugins/reload`. The speakers view learns from the same answer which plugin drives which
// speaker and whether it has a `volume` command, so the answer is shared through onPlugins.

import { request, subscribe, el } from './feed.js';

const listeners = [];
const names = new Map();      // plugin id -> name, from the latest answer
let list, rejected, noneRejected, result, reloadAll;
let asking = null;

/** fn(loaded) with every `plugins` answer's loaded list. */
export function onPlugins(fn) { listeners.push(fn); }

export function setup() {
  list = document.getElementById('plugin-list');
  rejected = document.getElementById('rejected-list');
  noneRejected = document.getElementById('rejected-none');
  result = document.getElementById('reload-result');
  reloadAll = document.getElementById('reload-all');
  reloadAll.addEventListener('click', () => reload(null, 'all plugins', reloadAll));
  // A crashed or restarted plugin changes its state and maybe its generation.
  subscribe('bridge/event/', (_, rest) => { if (rest.startsWith('bridge/event/plugin')) refresh(); });
}

/** Asks `plugins` again (one question at a time; callers during one share its answer). */
export function refresh() {
  if (asking) return asking;
  asking = request('plugins')
    .then(envelope => {
      if (envelope.status !== 'ok') throw new Error(envelope.error || 'the plugins request failed');
      const data = envelope.data || {};
      render(data.loaded || [], data.rejected || []);
      for (const fn of listeners) fn(data.loaded || []);
    })
    .catch(err => { result.textContent = `plugins: ${err.message}`; })
    .finally(() => { asking = null; });
  return asking;
}

function render(loaded, refused) {
  for (const p of loaded) names.set(p.id, p.name || p.id);
  list.replaceChildren(...loaded.map(plugin));
  if (loaded.length === 0) list.append(el('li', { class: 'empty', text: 'No plugin is loaded.' }));
  rejected.replaceChildren(...refused.map(r => el('li', {},
    el('code', { class: 'file', text: r.file }), ' ',
    el('span', { class: 'reason', text: r.error }),
    r.serving_older_generation ? el('span', { class: 'note', text: ' (its older generation keeps serving)' }) : null)));
  noneRejected.hidden = refused.length > 0;
}

function plugin(p) {
  const name = p.name || p.id;
  const button = el('button', { type: 'button', dataset: { reload: p.id }, text: `Reload ${name}` });
  button.addEventListener('click', () => reload(p.id, name, button));
  const speakers = (p.speakers || []).map(s => s.name || s.id).join(', ') || '—';
  const commands = el('ul', { class: 'commands' }, ...(p.commands || []).map(c =>
    el('li', {}, el('code', { class: 'command-name', text: c.name }), ' ', el('span', { class: 'signature', text: c.signature }))));
  if (!(p.commands || []).length) commands.append(el('li', { text: '—' }));
  const state = el('span', { class: 'state', dataset: { state: p.state || '' }, text: p.state || '' });
  const problem = p.problem ? el('p', { class: 'problem', text: p.problem }) : null;
  return el('li', { class: 'card plugin', dataset: { plugin: p.id } },
    el('div', { class: 'card-head' }, el('h3', { class: 'plugin-name', text: name }), state),
    problem,
    el('dl', { class: 'facts' },
      fact('Id', el('code', { text: p.id })),
      fact('Version', el('span', { class: 'version', text: p.version || '' })),
      fact('Generation', el('span', { class: 'generation', text: String(p.generation ?? '') })),
      fact('Isolation', el('span', { class: 'isolation', text: p.isolation || '' }),
        p.pid ? el('span', { class: 'muted', text: ` (pid ${p.pid})` }) : null),
      fact('Restarts', String(p.restarts ?? 0)),
      p.last_exit ? fact('Last exit', p.last_exit) : null,
      fact('Speakers', el('span', { class: 'speakers', text: speakers })),
      fact('Commands', commands),
      fact('File', el('code', { class: 'file', text: p.file || '' }))),
    el('div', { class: 'actions' }, button));
}

function fact(term, ...values) {
  const frag = document.createDocumentFragment();
  frag.append(el('dt', { text: term }), el('dd', {}, ...values));
  return frag;
}

async function reload(id, label, button) {
  const hadFocus = document.activeElement === button;
  // Disabled while in flight: a second press would queue a second reload behind the first.
  button.disabled = true;
  reloadAll.disabled = true;
  result.textContent = `reloading ${label}…`;
  result.classList.remove('failed');
  try {
    const envelope = await request('plugins/reload', id ? { id } : {});
    if (envelope.status === 'ok') {
      // Each file's outcome (loaded, reloaded, unloaded) by the plugin's name where we know it.
      const outcomes = (envelope.data || []).map(r => {
        const who = names.get(r.id) || r.id || r.file;
        return r.generation != null ? `${who}: ${r.outcome}, generation ${r.generation}` : `${who}: ${r.outcome}`;
      });
      result.textContent = `reloaded ${label}: ok` + (outcomes.length ? ` (${outcomes.join('; ')})` : '');
    } else {
      result.textContent = `reloaded ${label}: ${envelope.error}`;
      result.classList.add('failed');
    }
  } catch (err) {
    result.textContent = `reloaded ${label}: ${err.message}`;
    result.classList.add('failed');
  } finally {
    reloadAll.disabled = false;
    await refresh();
    // The list was rebuilt; the pressed button is a new element, keep the keyboard there.
    const again = id ? list.querySelector(`button[data-reload="${CSS.escape(id)}"]`) : reloadAll;
    if (again && hadFocus) again.focus();
    button.disabled = false;
  }
}
