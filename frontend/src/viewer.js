// The morphospace viewer: the map of one embedding table, drawn with regl-scatterplot
// (WebGL), and everything done with a selection: look, find more like it, label,
// propagate, mark, export, send over SAMP.
// Live, the explorer's server answers its /api requests. In a report page the table, the
// thumbnails and each object's neighbours come inline (#morphospace-data) and the page is
// read-only: nothing to label or save.
// Built into src/morphospace/report/viewer/viewer.js by `npm run build` (see README).
import createScatterplot from 'regl-scatterplot';

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1',
  '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const RAMP = Array.from({ length: 32 }, (_, i) => viridis(i / 31));
const THUMBS_BELOW = 150; // points in view under which the map shows the objects themselves
const GALLERY_MAX = 120;
const NO_VALUE = '#555b63';

const NEXT_SHOWN = 20; // objects offered to label or look at next
const MORE_LIKE = 24;

const $ = (selector) => document.querySelector(selector);
const embedded = document.getElementById('morphospace-data');
const report = embedded ? JSON.parse(embedded.textContent) : null;
const state = {
  n: 0, columns: {}, categorical: [], selection: [], labels: {}, marks: {},
  names: Array(9).fill(''), x: [], y: [], readOnly: report !== null,
};
let scatterplot = null;

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: 'same-origin', ...options });
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function say(text, isError = false) {
  const status = $('#status');
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

function viridis(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const at = Math.min(stops.length - 2, Math.floor(t * (stops.length - 1)));
  const f = t * (stops.length - 1) - at;
  const c = stops[at].map((v, k) => Math.round(v + f * (stops[at + 1][k] - v)));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

function extent(values) {
  // a loop: spreading a million values into Math.min overflows the call stack
  let low = Infinity; let high = -Infinity;
  for (const v of values) { if (v < low) low = v; if (v > high) high = v; }
  return [low, high];
}

function normalisedPositions(xs, ys) {
  // one scale for both axes, so the map keeps its shape, centred in [-1, 1]
  const finite = (v) => v !== null && Number.isFinite(v);
  const fx = xs.filter(finite); const fy = ys.filter(finite);
  const [x0, x1] = extent(fx);
  const [y0, y1] = extent(fy);
  const half = Math.max(x1 - x0, y1 - y0, 1e-9) / 2 / 0.95;
  const cx = (x0 + x1) / 2; const cy = (y0 + y1) / 2;
  return [xs.map((v) => (finite(v) ? (v - cx) / half : 0)), ys.map((v) => (finite(v) ? (v - cy) / half : 0))];
}

function encoding(name) {
  // categorical: named groups, text, or few distinct whole numbers; otherwise continuous
  const values = state.columns[name];
  const present = values.filter((v) => v !== null && v !== '');
  const numeric = present.every((v) => typeof v === 'number');
  const distinct = [...new Set(present)];
  if (state.categorical.includes(name) || !numeric || (distinct.length <= 20 && distinct.every(Number.isInteger))) {
    distinct.sort((a, b) => String(a).localeCompare(String(b), undefined, { numeric: true }));
    const code = new Map(distinct.map((v, i) => [v, i + 1]));
    return {
      kind: 'categorical',
      valueA: values.map((v) => code.get(v) ?? 0),
      colours: [NO_VALUE, ...distinct.map((_, i) => PALETTE[i % PALETTE.length])],
      legend: distinct.map((v, i) => [String(v), PALETTE[i % PALETTE.length]]),
    };
  }
  const [low, high] = extent(present);
  const span = high > low ? high - low : 1;
  return {
    kind: 'continuous',
    valueB: values.map((v) => (v === null ? 0 : (v - low) / span)),
    colours: RAMP,
    legend: [[`${low.toPrecision(3)}`, RAMP[0]], [`${high.toPrecision(3)}`, RAMP[31]]],
  };
}

function colourBy(name) {
  const enc = encoding(name);
  const points = { x: state.x, y: state.y, valueA: enc.valueA || state.x.map(() => 0), valueB: enc.valueB || state.x.map(() => 0) };
  scatterplot.set({ colorBy: enc.kind === 'categorical' ? 'valueA' : 'valueB', pointColor: enc.colours });
  scatterplot.draw(points, { zDataType: 'categorical', wDataType: 'continuous', preventFilterReset: true })
    .then(() => { if (state.selection.length) scatterplot.select(state.selection, { preventEvent: true }); });
  $('#legend').innerHTML = enc.legend.map(([label, colour]) =>
    `<span><i style="background:${colour}"></i>${escapeHtml(label)}</span>`).join('');
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function thumbUrl(i, full = false) {
  if (report) return report.thumbs[i];
  return `/api/thumbs/${i}.png${full ? '?full=1' : ''}`;
}

async function neighboursOf(of, k) {
  if (!report) {
    const query = of.slice(0, 500).join(',');
    return (await (await api(`/api/neighbours?of=${query}&k=${k}`)).json()).indices;
  }
  // the report holds each object's nearest neighbours: a selection's are those most
  // similar to most of its members
  const chosen = new Set(of); const votes = new Map();
  for (const i of of) {
    report.neighbours[i].forEach((j, rank) => {
      if (!chosen.has(j)) votes.set(j, (votes.get(j) || 0) + report.similarity[i][rank]);
    });
  }
  return [...votes.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([j]) => j);
}

function caption(i) {
  const id = state.columns.id[i];
  const label = state.labels[id] ? ` · ${state.labels[id]}` : '';
  const mark = { 1: ' · ★', 0: ' · ✗' }[state.marks[id]] || '';
  return escapeHtml(`${id}${label}${mark}`);
}

function showSelection(points) {
  state.selection = points;
  if (scatterplot) updateThumbs();
  $('#count').textContent = `${points.length} selected`;
  const shown = points.slice(0, GALLERY_MAX);
  $('#gallery').innerHTML = shown.map((i) =>
    `<figure data-i="${i}"><img alt="" loading="lazy" src="${thumbUrl(i)}"><figcaption>${caption(i)}</figcaption></figure>`).join('')
    + (points.length > GALLERY_MAX ? `<p>and ${points.length - GALLERY_MAX} more</p>` : '');
}

function showObject(i) {
  // the header metadata and scores of one object, from the table's columns
  const rows = Object.entries(state.columns).map(([k, values]) => [k, values[i]])
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(typeof v === 'number' ? +v.toPrecision(6) : v)}</td></tr>`).join('');
  const image = `<img alt="" src="${thumbUrl(i)}">`;
  const linked = report ? image : `<a href="${thumbUrl(i, true)}" target="_blank" title="the whole cutout">${image}</a>`;
  $('#object').innerHTML = `${linked}<table>${rows}</table>`;
}

function updateThumbs() {
  // zoomed in far enough, the points become the objects' thumbnails
  const layer = $('#thumbs');
  const inView = scatterplot.get('pointsInView');
  if (!inView.length || inView.length > THUMBS_BELOW) { layer.innerHTML = ''; return; }
  const { width, height } = $('#map').getBoundingClientRect();
  const side = Math.max(40, Math.min(120, Math.sqrt((width * height) / inView.length) * 0.6));
  const selected = new Set(state.selection);
  layer.innerHTML = inView.map((i) => {
    const [x, y] = scatterplot.getScreenPosition(i);
    return `<img alt="" data-i="${i}"${selected.has(i) ? ' class="selected"' : ''} src="${thumbUrl(i)}" style="left:${x - side / 2}px;top:${y - side / 2}px;width:${side}px;height:${side}px">`;
  }).join('');
}

function findObject(query) {
  const text = query.trim().toLowerCase();
  if (!text) return [];
  const sky = text.match(/^(-?[\d.]+)[ ,]+(-?[\d.]+)$/);
  const { ra, dec } = state.columns;
  if (sky && ra && dec) { // the object nearest the position (degrees)
    const [r0, d0] = [parseFloat(sky[1]), parseFloat(sky[2])].map((v) => (v * Math.PI) / 180);
    let best = -1; let bestCos = -2;
    for (let i = 0; i < state.n; i += 1) {
      if (ra[i] === null || dec[i] === null) continue;
      const [r, d] = [ra[i], dec[i]].map((v) => (v * Math.PI) / 180);
      const cos = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(r - r0);
      if (cos > bestCos) { bestCos = cos; best = i; }
    }
    return best >= 0 ? [best] : [];
  }
  const names = [state.columns.id, state.columns.object].filter(Boolean);
  const found = [];
  for (let i = 0; i < state.n; i += 1) {
    if (names.some((column) => column[i] !== null && String(column[i]).toLowerCase() === text)) found.push(i);
  }
  return found;
}

function postJson(path, body) {
  return api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

async function keep(store, value) {
  // store: 'labels' (class names) or 'marks' ('1' interesting, '0' not); '' clears
  if (!state.selection.length) { say('select objects first'); return false; }
  const changes = Object.fromEntries(state.selection.map((i) => [state.columns.id[i], value || null]));
  try {
    state[store] = (await (await postJson(`/api/${store}`, { set: changes })).json()).labels;
  } catch (error) { say(`${store}: ${error.message}`, true); return false; }
  refreshLabelColumn();
  showSelection(state.selection);
  return true;
}

async function saveLabels(label) {
  if (await keep('labels', label)) {
    say(`${state.selection.length} objects labelled ${label ? `"${label}"` : '(cleared)'}; ${Object.keys(state.labels).length} labels saved`);
  }
}

async function saveMarks(mark) {
  if (await keep('marks', mark)) {
    const word = { 1: 'interesting', 0: 'not interesting' }[mark] || 'unmarked';
    say(`${state.selection.length} objects marked ${word}; ${Object.keys(state.marks).length} marks saved`);
  }
}

function refreshLabelColumn() {
  state.columns.label = state.columns.id.map((id) => state.labels[id] ?? null);
  state.columns.interesting = state.columns.id.map((id) => (id in state.marks ? +state.marks[id] : null));
  const used = [...new Set(Object.values(state.labels))].sort();
  used.forEach((name) => { if (!state.names.includes(name)) { const free = state.names.indexOf(''); if (free >= 0) state.names[free] = name; } });
  document.querySelectorAll('#names input').forEach((input, k) => { input.value = state.names[k]; });
  fillColumnChoice();
  if ($('#colour').value === 'label') colourBy('label');
}

function fillColumnChoice() {
  const select = $('#colour'); const current = select.value;
  const hidden = ['path', 'x', 'y', ...(state.readOnly ? ['label', 'interesting'] : [])];
  const names = Object.keys(state.columns).filter((c) => !hidden.includes(c));
  select.innerHTML = names.map((c) => `<option${c === current ? ' selected' : ''}>${escapeHtml(c)}</option>`).join('');
}

async function propagate() {
  try {
    const found = await (await api('/api/propagate', { method: 'POST' })).json();
    state.columns.predicted = found.predicted;
    state.columns.probability = found.probability;
    fillColumnChoice();
    $('#colour').value = 'predicted';
    colourBy('predicted');
    scatterplot.select(found.next);
    const accuracy = found.accuracy === null ? 'too few labels to cross-validate' : `cross-validated accuracy ${found.accuracy.toFixed(2)}`;
    say(`propagated ${found.classes.length} classes with ${found.method} (${accuracy}); selected: the ${found.next.length} to label next`);
  } catch (error) { say(`propagate: ${error.message}`, true); }
}

async function rerankAnomalies() {
  try {
    const found = decoded(await (await api('/api/rerank', { method: 'POST' })).json());
    Object.assign(state.columns, found);
    fillColumnChoice();
    $('#colour').value = 'anomaly_reranked';
    colourBy('anomaly_reranked');
    const ranks = found.anomaly_reranked_rank;
    const top = [...ranks.keys()].filter((i) => ranks[i] <= NEXT_SHOWN).sort((a, b) => ranks[a] - ranks[b]);
    scatterplot.select(top);
    say(`anomalies re-ranked by ${Object.keys(state.marks).length} marks; selected: the ${top.length} most unusual of interest`);
  } catch (error) { say(`re-rank: ${error.message}`, true); }
}

function everythingOrSelection() {
  return state.selection.length ? state.selection : [...Array(state.n).keys()];
}

async function exportSelection(format) {
  const indices = everythingOrSelection();
  try {
    const response = await postJson('/api/export', { indices, format });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await response.blob());
    link.download = `selection.${format}`;
    document.body.appendChild(link); link.click(); link.remove();
    say(`exported ${indices.length} objects as ${format}`);
  } catch (error) { say(`export: ${error.message}`, true); }
}

async function sendOverSamp() {
  const indices = everythingOrSelection();
  try {
    const sent = await (await postJson('/api/samp', { indices })).json();
    if (sent.problem) say(`SAMP: ${sent.problem}`, true);
    else say(`sent ${sent.sent} objects over SAMP to ${sent.clients.join(', ')}`);
  } catch (error) { say(`SAMP: ${error.message}`, true); }
}

function decoded(columns) {
  // numbers come as base64 float64 (NaN: no value); lists of values as they are
  for (const [name, values] of Object.entries(columns)) {
    if (values === null || values.float64 === undefined) continue;
    const text = atob(values.float64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
    columns[name] = Array.from(new Float64Array(bytes.buffer), (v) => (Number.isNaN(v) ? null : v));
  }
  return columns;
}

async function loadTable() {
  const data = report || await (await api('/api/objects')).json();
  state.n = data.n; state.columns = decoded(data.columns); state.categorical = data.categorical || [];
  if (report) {
    document.body.classList.add('read-only');
    document.title = report.title; $('#title').textContent = report.title;
  } else {
    state.labels = (await (await api('/api/labels')).json()).labels;
    state.marks = (await (await api('/api/marks')).json()).labels;
  }
}

async function main() {
  await loadTable();
  if (!state.columns.x) { say('this table has no map yet: run morphospace report on it first', true); return; }
  [state.x, state.y] = normalisedPositions(state.columns.x, state.columns.y);
  const canvas = $('#canvas');
  const { width, height } = canvas.getBoundingClientRect();
  scatterplot = createScatterplot({ canvas, width, height, pointSize: 4, opacity: 0.85, backgroundColor: '#101418', lassoColor: '#ffd166', pointColorActive: '#ffffff', pointColorHover: '#ffd166' });
  scatterplot.subscribe('select', ({ points }) => showSelection([...points]));
  scatterplot.subscribe('deselect', () => showSelection([]));
  scatterplot.subscribe('pointOver', (i) => showObject(i));
  let pending = false;
  scatterplot.subscribe('view', () => {
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; updateThumbs(); }); }
  });
  window.addEventListener('resize', () => { const r = canvas.getBoundingClientRect(); scatterplot.set({ width: r.width, height: r.height }); });
  refreshLabelColumn();
  $('#colour').value = state.columns.cluster ? 'cluster' : 'id';
  colourBy($('#colour').value);
  $('#colour').addEventListener('change', (e) => colourBy(e.target.value));
  $('#size').addEventListener('input', (e) => scatterplot.set({ pointSize: +e.target.value }));
  $('#tool').addEventListener('change', (e) => scatterplot.set({ lassoType: e.target.value }));
  $('#opacity').addEventListener('input', (e) => scatterplot.set({ opacity: +e.target.value }));
  $('#search').addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    const found = findObject(e.target.value);
    if (!found.length) { say(`nothing matches "${e.target.value}"`, true); return; }
    scatterplot.select(found); scatterplot.zoomToPoints(found, { padding: 2, transition: true });
  });
  $('#more').addEventListener('click', async () => {
    if (!state.selection.length) { say('select objects first'); return; }
    const near = await neighboursOf(state.selection, MORE_LIKE);
    scatterplot.select([...state.selection, ...near]);
    say(`added the ${near.length} objects most like the selection`);
  });
  $('#label').addEventListener('click', () => saveLabels($('#name').value.trim()));
  $('#unlabel').addEventListener('click', () => saveLabels(''));
  $('#propagate').addEventListener('click', propagate);
  document.querySelectorAll('[data-mark]').forEach((button) => button.addEventListener('click', () => saveMarks(button.dataset.mark)));
  $('#rerank').addEventListener('click', rerankAnomalies);
  $('#samp').addEventListener('click', sendOverSamp);
  document.querySelectorAll('[data-export]').forEach((button) => button.addEventListener('click', () => exportSelection(button.dataset.export)));
  $('#gallery').addEventListener('click', (e) => { const f = e.target.closest('figure'); if (f) showObject(+f.dataset.i); });
  document.querySelectorAll('#names input').forEach((input, k) => input.addEventListener('change', () => { state.names[k] = input.value.trim(); }));
  document.addEventListener('keydown', (e) => {
    if (e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
    const k = '123456789'.indexOf(e.key);
    if (k >= 0 && state.names[k] && !state.readOnly) saveLabels(state.names[k]);
  });
  window.morphospaceExplorer = { state, scatterplot }; // for scripts and tests
  document.body.dataset.ready = 'true';
  say(`${state.n} objects. Drag to pan, scroll to zoom, shift-drag to select (lasso or box), click a point to select it.`);
}

main().catch((error) => say(error.message, true));
