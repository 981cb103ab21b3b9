// The page's entry: sets the views up, switches between them by the URL hash (so each view has
// an address, and Back works), and opens the event stream once everyone listens to it.

import { connect, onReady, subscribe } from './feed.js';
import * as speakers from './speakers.js';
import * as plugins from './plugins.js';
import * as announcements from './announcements.js';
import * as say from './say.js';
import * as health from './health.js';

const VIEWS = ['speakers', 'announce', 'plugins', 'health'];
const TITLES = { speakers: 'Speakers', announce: 'Announce', plugins: 'Plugins', health: 'Health' };

function current() {
  const name = location.hash.replace(/^#/, '');
  return VIEWS.includes(name) ? name : 'speakers';
}

function show(moveFocus) {
  const name = current();
  for (const view of VIEWS) document.getElementById(`view-${view}`).hidden = view !== name;
  for (const link of document.querySelectorAll('nav a[href^="#"]')) {
    if (link.getAttribute('href') === `#${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${TITLES[name]} · speakerbridge`;
  if (name === 'health') health.start(); else health.stop();
  // After a click in the nav, a screen reader or keyboard user lands on the view's heading.
  if (moveFocus) document.querySelector(`#view-${name} h2`)?.focus();
}

function showBridge(info) {
  const version = document.getElementById('bridge-version');
  if (version && info) version.textContent = [info.version && `v${info.version}`, info.broker].filter(Boolean).join(' · ');
}

// bridge/state carries the twin warning (another daemon with our client id): it belongs on every view.
function showBridgeState(state) {
  const warning = document.getElementById('bridge-warning');
  const text = state && typeof state === 'object' ? state.warning : null;
  warning.textContent = text || '';
  warning.hidden = !text;
}

// Sign out is offered only where signing in is needed: the page without our cookie is refused
// when the daemon has an admin token, and served when it has none (a loopback bind).
async function offerSignOut() {
  try {
    const r = await fetch('/', { method: 'HEAD', credentials: 'omit', cache: 'no-store' });
    document.getElementById('logout-form').hidden = r.status !== 401;
  } catch { /* the daemon is away; the stream's status says so */ }
}

plugins.setup();
speakers.setup();
announcements.setup();
say.setup();
health.setup();
subscribe('bridge/info', showBridge);
subscribe('bridge/state', showBridgeState);
onReady(() => {
  announcements.showEmpty();
  say.loadVoices();
});
window.addEventListener('hashchange', () => show(true));
show(false);
connect(document.getElementById('live-status'));
offerSignOut();
