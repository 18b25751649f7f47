// Triage: one object at a time, in a chosen order, labelled or marked from the keyboard
// (astronomaly's loop). The order comes from the server (/api/triage, morphospace.explore.triage);
// the objects seen are kept in RUN/triage.csv, so leaving and coming back resumes where the
// user stopped. In the re-ranked order, every few marks re-rank the anomaly scores and the
// objects not seen yet follow the new order.
import { $, api, postJson, say } from './util.js';
import { openView, closeView } from './objectview.js';

const ORDER_KEY = 'morphospace-triage-order';
const OPEN_KEY = 'morphospace-triage-open';
const triage = {
  active: false, order: [], seen: new Map(), history: [], cursor: 0, current: null,
  marksSinceRerank: 0, rerankEvery: 5, queue: Promise.resolve(),
};
let hooks = null; // { state, keep, select }

export function triageActive() {
  return triage.active;
}

function storageKey(name) {
  return `${name}:${location.pathname}`;
}

async function loadOrder() {
  const order = $('#triage-order').value;
  const found = await (await api(`/api/triage?order=${encodeURIComponent(order)}`)).json();
  triage.order = found.order;
  triage.rerankEvery = found.rerank_every || triage.rerankEvery;
  triage.seen = new Map(Object.entries(found.seen).map(([id, n]) => [id, +n]));
  triage.history = [...triage.seen.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id);
}

function rowOf(id) {
  return hooks.state.rowOfId.get(id);
}

function nextUnseen() {
  const ids = hooks.state.columns.id;
  return triage.order.find((i) => !triage.seen.has(ids[i])) ?? null;
}

async function show(i) {
  triage.current = i;
  const progress = `${triage.seen.size} of ${hooks.state.n} seen`;
  $('#triage-progress').textContent = progress;
  if (i === null) {
    say(`triage: every object seen (${progress})`);
    return;
  }
  hooks.select([i]);
  const place = triage.cursor < triage.history.length ? 'seen before' : '';
  await openView(i, { caption: place, onClose: () => leave(false) });
  document.body.dataset.triageAt = String(i);
}

export async function enterTriage() {
  if (hooks.state.readOnly) return;
  triage.active = true;
  document.body.classList.add('triaging');
  localStorage.setItem(storageKey(OPEN_KEY), '1');
  try {
    await loadOrder();
  } catch (error) { say(`triage: ${error.message}`, true); leave(); return; }
  triage.cursor = triage.history.length;
  triage.marksSinceRerank = 0;
  await show(nextUnseen());
  say('triage: 1-9 label · i interesting · n not interesting · space skip · ← back · Esc leave');
}

export function leave(close = true) {
  if (!triage.active) return;
  triage.active = false;
  document.body.classList.remove('triaging');
  localStorage.removeItem(storageKey(OPEN_KEY));
  delete document.body.dataset.triageAt;
  if (close) closeView();
}

async function markSeen(i) {
  const id = hooks.state.columns.id[i];
  if (triage.seen.has(id)) return;
  const place = Math.max(0, ...triage.seen.values()) + 1;
  const kept = (await (await postJson('/api/seen', { set: { [id]: String(place) } })).json()).labels;
  triage.seen = new Map(Object.entries(kept).map(([k, n]) => [k, +n]));
  triage.history = [...triage.seen.entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);
}

async function advance() {
  triage.cursor += 1;
  if (triage.cursor < triage.history.length) { await show(rowOf(triage.history[triage.cursor])); return; }
  triage.cursor = triage.history.length;
  if ($('#triage-order').value === 'reranked' && triage.marksSinceRerank >= triage.rerankEvery) {
    triage.marksSinceRerank = 0;
    await loadOrder();
    say(`triage: re-ranked by ${Object.keys(hooks.state.marks).length} marks; the order follows it`);
  }
  await show(nextUnseen());
}

async function act(kind, value) {
  const i = triage.current;
  if (i === null) return;
  if (kind !== 'skip') {
    const saved = await hooks.keep(kind, value, [i]);
    if (!saved) return;
    if (kind === 'marks') triage.marksSinceRerank += 1;
  }
  try {
    await markSeen(i);
  } catch (error) { say(`triage: ${error.message}`, true); return; }
  await advance();
}

async function back() {
  if (triage.cursor === 0) { say('triage: this is the first object seen'); return; }
  triage.cursor -= 1;
  await show(rowOf(triage.history[triage.cursor]));
}

function queued(step) {
  // keys pressed quickly act one after another, each on the object the last one led to
  triage.queue = triage.queue.then(step).catch((error) => say(`triage: ${error.message}`, true));
}

export function triageKey(event) {
  // true when the key was triage's
  if (!triage.active) return false;
  const k = '123456789'.indexOf(event.key);
  const names = hooks.state.names;
  if (k >= 0) {
    if (names[k]) queued(() => act('labels', names[k]));
    else say(`give key ${event.key} a class name first (Label panel)`, true);
  } else if (event.key === 'i') queued(() => act('marks', '1'));
  else if (event.key === 'n') queued(() => act('marks', '0'));
  else if (event.key === ' ' || event.key === 's' || event.key === 'ArrowRight') queued(() => act('skip'));
  else if (event.key === 'ArrowLeft' || event.key === 'Backspace') queued(back);
  else if (event.key === 'Escape') leave();
  else return false;
  event.preventDefault();
  return true;
}

export function setUpTriage(given) {
  hooks = given;
  const saved = localStorage.getItem(storageKey(ORDER_KEY));
  if (saved && [...$('#triage-order').options].some((o) => o.value === saved)) $('#triage-order').value = saved;
  $('#triage-order').addEventListener('change', async (e) => {
    localStorage.setItem(storageKey(ORDER_KEY), e.target.value);
    if (triage.active) { await loadOrder(); triage.cursor = triage.history.length; await show(nextUnseen()); }
  });
  $('#triage').addEventListener('click', () => (triage.active ? leave() : enterTriage()));
  if (localStorage.getItem(storageKey(OPEN_KEY))) enterTriage();
}
