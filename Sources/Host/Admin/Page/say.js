// The Announce form: builds a `<base>/speak` request from the fields (only those the user set,
// so the daemon's defaults apply to the rest) and hands the id to the announcement list, which
// then follows the announcement's events.

import { speak, request, newID, el } from './feed.js';
import { all as allSpeakers, onChange as onSpeakersChange } from './speakers.js';
import { sent } from './announcements.js';

let form, text, speakers, voice, volume, priority, interrupt, result, submit;
let voicesLoaded = false;

export function setup() {
  form = document.getElementById('say-form');
  text = document.getElementById('say-text');
  speakers = document.getElementById('say-speakers');
  voice = document.getElementById('say-voice');
  volume = document.getElementById('say-volume');
  priority = document.getElementById('say-priority');
  interrupt = document.getElementById('say-interrupt');
  result = document.getElementById('say-result');
  submit = form.querySelector('button[type=submit]');
  form.addEventListener('submit', e => { e.preventDefault(); send(); });
  onSpeakersChange(listSpeakers);
  listSpeakers();
}

/** Keeps the options in step with the speakers view, and what the user had selected. */
function listSpeakers() {
  const chosen = new Set([...speakers.selectedOptions].map(o => o.value));
  if (chosen.size === 0) chosen.add('all');
  const options = [el('option', { value: 'all', text: 'all' })];
  for (const s of allSpeakers()) options.push(el('option', { value: s.id, text: s.name }));
  for (const o of options) o.selected = chosen.has(o.value);
  speakers.replaceChildren(...options);
  speakers.size = Math.min(Math.max(options.length, 2), 6);
}

/** Fills the voice choice from the TTS engine's `voices` answer (once it answered). */
export async function loadVoices() {
  if (voicesLoaded) return;
  try {
    const envelope = await request('voices');
    if (envelope.status !== 'ok') throw new Error(envelope.error);
    const data = envelope.data;
    const voices = Array.isArray(data) ? data : Array.isArray(data?.voices) ? data.voices : [];
    const options = voices
      .map(v => typeof v === 'string' ? { id: v, name: v } : v)
      .filter(v => v && v.id)
      .sort((a, b) => String(a.name || a.id).localeCompare(String(b.name || b.id)))
      .map(v => el('option', { value: v.id, text: v.language ? `${v.name || v.id} (${v.language})` : (v.name || v.id) }));
    voice.replaceChildren(el('option', { value: '', text: 'default voice' }), ...options);
    voicesLoaded = true;
  } catch (err) {
    // Speaking still works with the default voice; say why there is no choice.
    voice.replaceChildren(el('option', { value: '', text: `default voice (voices: ${err.message})` }));
  }
}

async function send() {
  const words = text.value.trim();
  if (!words) {
    result.textContent = 'Write something to say first.';
    text.focus();
    return;
  }
  const chosen = [...speakers.selectedOptions].map(o => o.value);
  const fields = {
    text: words,
    speakers: chosen.length === 0 || chosen.includes('all') ? ['all'] : chosen,
    priority: priority.value,
  };
  if (voice.value) fields.voice = voice.value;
  if (volume.value !== '') {
    const v = Number(volume.value);
    if (!Number.isInteger(v) || v < 0 || v > 100) {
      result.textContent = 'Volume is a whole number from 0 to 100, or empty for the default.';
      volume.focus();
      return;
    }
    fields.volume = v;
  }
  if (interrupt.checked) fields.interrupt = true;
  submit.disabled = true;
  result.textContent = 'sending…';
  try {
    // The text is noted before sending: the queued event can arrive before the POST's answer.
    const id = newID();
    sent(id, words);
    await speak({ ...fields, id });
    result.textContent = `sent as ${id}`;
  } catch (err) {
    result.textContent = err.message;
  } finally {
    submit.disabled = false;
  }
}
