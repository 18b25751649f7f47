// The morphospace viewer: the map of one embedding table, drawn with regl-scatterplot
// (WebGL), and everything done with a selection: look, find more like it, label,
// propagate, mark, export, send over SAMP; one object's pixels (objectview.js) and triage,
// one object at a time (triage.js).
// Live, the explorer's server answers its /api requests. In a report page the table, the
// thumbnails and each object's neighbours come inline (#morphospace-data) and the page is
// read-only: nothing to label or save.
// Built into src/morphospace/report/viewer/viewer.js by `npm run build` (see README).
import createScatterplot from 'regl-scatterplot';
import { encoding, extent, missing, RAMP } from './colours.js';
import { record, undo, redo } from './history.js';
import { closeView, openView, setUpView, viewing } from './objectview.js';
import { enterTriage, leave as leaveTriage, setUpTriage, triageActive, triageKey } from './triage.js';
import { $, api, escapeHtml, postJson, say, shortNumber } from './util.js';

const THUMBS_BELOW = 150; // points in view under which the map shows the objects themselves
const GALLERY_MAX = 120;
const NEXT_SHOWN = 20; // objects offered to label or look at next
const MORE_LIKE = 24;
const CLOSEST_VIEW = 0.08; // the narrowest framing of found objects (the map spans about 2)
const IDLE = 'Drag to pan, scroll to zoom, shift-drag to select, Esc to deselect, ? for help.';

const embedded = document.getElementById('morphospace-data');
const report = embedded ? JSON.parse(embedded.textContent) : null;
const state = {
  n: 0, columns: {}, all: [], categorical: [], selection: [], labels: {}, marks: {},
  names: Array(9).fill(''), x: [], y: [], readOnly: report !== null,
  similarity: new Map(), rowOfId: new Map(), enc: null, shown: null, drawing: Promise.resolve(),
  spatialIndex: undefined, norm: null, anchors: [0, 0], densityFrom: Infinity, densityAsked: 0,
};
let scatterplot = null;
let densityTimer = null;

function normalisedPositions(xs, ys) {
  // one scale for both axes, so the map keeps its shape, centred in [-1, 1]
  const [x0, x1] = extent(xs); // one pass, no copy (a missing position is NaN)
  const [y0, y1] = extent(ys);
  const half = Math.max(x1 - x0, y1 - y0, 1e-9) / 2 / 0.95;
  state.norm = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, half };
  const scaled = (vs, c) => {
    const out = new Float32Array(vs.length);
    for (let i = 0; i < vs.length; i++) out[i] = Number.isFinite(vs[i]) ? (vs[i] - c) / half : 0;
    return out;
  };
  return [scaled(xs, (x0 + x1) / 2), scaled(ys, (y0 + y1) / 2)];
}

function rowIndex(ids) {
  // each id's row, made the first time one is asked for: a million ids take a while
  let rows = null;
  return { get: (id) => (rows ??= new Map(ids.map((v, i) => [v, i]))).get(id) };
}

// --- columns: the first paint's at once, any other when it is needed -------------------------

function decodeColumns(header, buffer = null, start = 0) {
  // the columns of report.html.encoded_columns: numbers as Float64Array (NaN: no value),
  // read in place from the binary payload or from base64; names and text as arrays
  const bytes = (chunk, Type, count) => {
    if (typeof chunk === 'number') return new Type(buffer, start + chunk, count);
    const text = atob(chunk); const raw = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i += 1) raw[i] = text.charCodeAt(i);
    return new Type(raw.buffer, 0, count);
  };
  const columns = {};
  for (const [name, column] of Object.entries(header.columns)) {
    if (column.float64 !== undefined) columns[name] = bytes(column.float64, Float64Array, header.n);
    else if (column.codes !== undefined) {
      const codes = bytes(column.codes, Int32Array, header.n);
      columns[name] = Array.from(codes, (c) => (c < 0 ? null : column.names[c]));
    } else columns[name] = header.n ? column.lines.split('\n') : [];
  }
  return columns;
}

async function fetchColumns(names = null) {
  // GET /api/objects: a uint32 length, the JSON header, the 8-byte aligned chunks
  const query = names ? `?columns=${names.map(encodeURIComponent).join(',')}` : '';
  const buffer = await (await api(`/api/objects${query}`)).arrayBuffer();
  const length = new DataView(buffer).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  return { header, columns: decodeColumns(header, buffer, Math.ceil((4 + length) / 8) * 8) };
}

async function ensureColumns(names) {
  // the page holds the first paint's columns; any other is fetched the first time it is used
  const wanted = names.filter((name) => !(name in state.columns) && state.all.includes(name));
  if (report || !wanted.length) return;
  Object.assign(state.columns, (await fetchColumns(wanted)).columns);
}

function columnNames() {
  return [...new Set([...state.all, ...Object.keys(state.columns)])];
}

// --- colour and legend ------------------------------------------------------------------

async function colourBy(name) {
  try { await ensureColumns([name]); } catch (error) { say(`${name}: ${error.message}`, true); return; }
  const enc = encoding(state.columns[name], state.categorical.includes(name));
  state.enc = enc; state.shown = null;
  const zeros = () => new Float32Array(state.n);
  const points = { x: state.x, y: state.y, valueA: enc.valueA || zeros(), valueB: enc.valueB || zeros() };
  const colours = { colorBy: enc.kind === 'categorical' ? 'valueA' : 'valueB', pointColor: enc.colours };
  // one draw at a time: a colour chosen while the last is drawn waits for it. The colours
  // are set (a frame of their own) before the points come, so that a million points are
  // drawn once, not twice. The points never move: the spatial index that the first draw
  // built serves every later one.
  const draw = () => scatterplot.draw(points, { zDataType: 'categorical', wDataType: 'continuous', spatialIndex: state.spatialIndex });
  state.drawing = state.drawing.then(() => scatterplot.set(colours)).then(draw).then(() => {
    state.spatialIndex ??= scatterplot.get('spatialIndex');
    if (state.selection.length) scatterplot.select(state.selection, { preventEvent: true });
    updateThumbs();
  });
  drawLegend(name);
  return state.drawing;
}

function drawLegend(name) {
  const enc = state.enc; const legend = $('#legend');
  if (enc.kind === 'continuous') {
    const mid = (enc.low + enc.high) / 2;
    legend.innerHTML = `<span>${escapeHtml(name)}</span><span class="low">${shortNumber(enc.low)}</span>`
      + `<span class="colour-bar" style="background:linear-gradient(to right, ${RAMP.join(',')})"><b>${shortNumber(mid)}</b></span>`
      + `<span class="high">${shortNumber(enc.high)}</span>`;
    return;
  }
  legend.innerHTML = enc.groups.map((g) => {
    const off = state.shown && !state.shown.has(g.code) ? ' class="off"' : '';
    return `<button type="button" data-code="${g.code}"${off} title="click: show only this; shift-click: hide or show it">`
      + `<i style="background:${g.colour}"></i>${escapeHtml(g.name)}</button>`;
  }).join('') + (state.shown ? '<button type="button" data-code="all">show all</button>' : '');
}

function legendClick(event) {
  const button = event.target.closest('button[data-code]');
  if (!button || !state.enc || state.enc.kind !== 'categorical') return;
  const all = state.enc.groups.map((g) => g.code);
  const code = button.dataset.code === 'all' ? null : +button.dataset.code;
  let shown = state.shown ? new Set(state.shown) : new Set(all);
  if (code === null) shown = null;
  else if (event.shiftKey || event.altKey) { if (shown.has(code)) shown.delete(code); else shown.add(code); }
  else if (shown.size === 1 && shown.has(code)) shown = null;
  else shown = new Set([code]);
  if (shown && shown.size === all.length) shown = null;
  state.shown = shown;
  if (shown === null) scatterplot.unfilter();
  else {
    const kept = [];
    state.enc.valueA.forEach((c, i) => { if (shown.has(c)) kept.push(i); });
    scatterplot.filter(kept);
  }
  drawLegend($('#colour').value);
  updateThumbs();
}

// --- neighbours, selection and framing ----------------------------------------------------

function thumbUrl(i, full = false) {
  if (report) return report.thumbs[i];
  return `/api/thumbs/${i}.png${full ? '?full=1' : ''}`;
}

async function neighboursOf(of, k) {
  // the objects most like a selection, with their cosine similarity to it
  if (!report) {
    const query = of.slice(0, 500).join(',');
    return (await api(`/api/neighbours?of=${query}&k=${k}`)).json();
  }
  // the report holds each object's nearest neighbours: a selection's are those most
  // similar to most of its members
  const chosen = new Set(of); const votes = new Map();
  for (const i of of) {
    report.neighbours[i].forEach((j, rank) => {
      if (!chosen.has(j)) votes.set(j, (votes.get(j) || 0) + report.similarity[i][rank]);
    });
  }
  const best = [...votes.entries()].sort((a, b) => b[1] - a[1]).slice(0, k);
  return { indices: best.map(([j]) => j), similarity: best.map(([, v]) => v / of.length) };
}

function frame(indices) {
  // zoom so that the objects fill the view, but never closer than a small neighbourhood
  if (!indices.length) return;
  const xs = indices.map((i) => state.x[i]); const ys = indices.map((i) => state.y[i]);
  const [x0, x1] = extent(xs); const [y0, y1] = extent(ys);
  const half = Math.max(x1 - x0, y1 - y0) / 2;
  scatterplot.zoomToLocation([(x0 + x1) / 2, (y0 + y1) / 2], Math.max(half * 1.25, CLOSEST_VIEW), { transition: true });
}

function caption(i) {
  const id = state.columns.id[i];
  const label = state.labels[id] ? ` · ${state.labels[id]}` : '';
  const mark = { 1: ' · ★', 0: ' · ✗' }[state.marks[id]] || '';
  const similar = state.similarity.has(i) ? ` · ${state.similarity.get(i).toFixed(3)}` : '';
  return escapeHtml(`${id}${label}${mark}${similar}`);
}

function showSelection(points) {
  state.selection = points;
  if (scatterplot) updateThumbs();
  $('#count').textContent = `${points.length} selected`;
  const shown = points.slice(0, GALLERY_MAX);
  $('#gallery').innerHTML = shown.map((i) => {
    const colour = state.enc ? state.enc.colourOf(i) : '#000';
    return `<figure data-i="${i}" title="click: the object view"><img alt="" loading="lazy" src="${thumbUrl(i)}" style="border-color:${colour}"><figcaption>${caption(i)}</figcaption></figure>`;
  }).join('') + (points.length > GALLERY_MAX ? `<p>and ${points.length - GALLERY_MAX} more</p>` : '');
  if (points.length === 1) showObject(points[0]);
}

const GROUPS = [
  ['Object', ['id', 'object', 'path', 'hdu', 'hdu_name', 'shape', 'ra', 'dec']],
  ['Your work', ['label', 'interesting', 'predicted', 'probability']],
  ['Map and groups', ['x', 'y', 'cluster', 'cluster_hdbscan', 'cluster_agglomerative']],
  ['Anomaly', ['anomaly', 'anomaly_rank', 'anomaly_iforest', 'anomaly_lof', 'anomaly_knn', 'anomaly_reranked', 'anomaly_reranked_rank', 'anomaly_interest']],
  ['Observation', ['pixel_scale', 'bmaj', 'bmin', 'bpa', 'bunit', 'restfrq', 'telescop', 'instrume', 'date_obs', 'nan_fraction']],
];

const rowsKept = new Map(); // the last objects fetched whole
const ROWS_KEPT = 200;

async function rowOf(i) {
  // every column of object i: from the server (all of them, on demand), or in a report
  // from the page; with what the user and the page added
  let row = rowsKept.get(i);
  if (!row) {
    row = report ? Object.fromEntries(Object.keys(state.columns).map((k) => [k, state.columns[k][i]]))
      : await (await api(`/api/objects/${i}`)).json();
    rowsKept.set(i, row);
    if (rowsKept.size > ROWS_KEPT) rowsKept.delete(rowsKept.keys().next().value);
  }
  const added = {};
  for (const k of ['label', 'interesting', 'predicted', 'probability', 'anomaly_reranked', 'anomaly_reranked_rank', 'anomaly_interest']) {
    if (state.columns[k]) added[k] = state.columns[k][i];
  }
  return { ...row, ...added };
}

async function showObject(i) {
  // the object's columns, in groups: what it is, the user's work, map, scores, header
  $('#object').dataset.i = String(i);
  let row;
  try { row = await rowOf(i); } catch (error) { say(`object ${i}: ${error.message}`, true); return; }
  if ($('#object').dataset.i !== String(i)) return; // another object was asked for since
  const used = new Set();
  const present = (k) => k in row && !missing(row[k]);
  const rows = (keys) => keys.filter(present).map((k) => {
    used.add(k);
    const v = row[k];
    return `<tr><th>${escapeHtml(k)}</th><td${k === 'path' ? ' class="path"' : ''}>${escapeHtml(shortNumber(v))}</td></tr>`;
  }).join('');
  const sections = GROUPS.map(([title, keys]) => [title, rows(keys)]);
  sections.push(['Other columns', rows(Object.keys(row).filter((k) => !used.has(k)))]);
  const html = sections.filter(([, body]) => body).map(([title, body], k) =>
    `<details${k < 2 ? ' open' : ''}><summary>${title}</summary><table>${body}</table></details>`).join('');
  const image = `<img alt="" src="${thumbUrl(i)}">`;
  const button = report ? '' : `<button type="button" data-view="${i}">Object view (v)</button>`;
  $('#object').innerHTML = `<div>${image}${button}</div><div>${html}</div>`;
}

function updateThumbs() {
  // zoomed in far enough, the points become the objects' thumbnails, framed in their
  // group's colour; images already shown stay (moved, not made again)
  const layer = $('#thumbs');
  if (!fewInView()) { layer.replaceChildren(); return; }
  const inView = scatterplot.get('pointsInView').filter((i) => !state.shown || state.shown.has(state.enc.valueA[i]));
  if (!inView.length || inView.length > THUMBS_BELOW) { layer.replaceChildren(); return; }
  const { width, height } = $('#map').getBoundingClientRect();
  const side = Math.max(40, Math.min(120, Math.sqrt((width * height) / inView.length) * 0.6));
  const selected = new Set(state.selection);
  const existing = new Map([...layer.children].map((img) => [+img.dataset.i, img]));
  const keep = new Set(inView);
  existing.forEach((img, i) => { if (!keep.has(i)) img.remove(); });
  for (const i of inView) {
    let img = existing.get(i);
    if (!img) {
      img = document.createElement('img');
      img.alt = ''; img.dataset.i = String(i); img.src = thumbUrl(i);
      layer.appendChild(img);
    }
    const [x, y] = scatterplot.getScreenPosition(i);
    Object.assign(img.style, { left: `${x - side / 2}px`, top: `${y - side / 2}px`, width: `${side}px`, height: `${side}px`, borderColor: state.enc.colourOf(i) });
    img.classList.toggle('selected', selected.has(i));
  }
}

function fewInView(tried = 4096) {
  // whether the points in view may be few enough for thumbnails, judged from an even
  // sample of them: asking the spatial index for every point in view is a pass over all
  // of them when zoomed out. Generous (8x), so that a sample never hides a small view.
  return state.n <= 8 * tried || inViewEstimate(tried) <= 8 * THUMBS_BELOW;
}

function inViewEstimate(tried = 4096) {
  // how many points are in view, from an even sample of them
  const step = Math.max(1, Math.floor(state.n / tried));
  const { width, height } = $('#map').getBoundingClientRect();
  let inside = 0;
  for (let i = 0; i < state.n; i += step) {
    const [x, y] = scatterplot.getScreenPosition(i);
    if (x >= 0 && x <= width && y >= 0 && y <= height) inside += 1;
  }
  return inside * step;
}

// --- a large table's density ---------------------------------------------------------------

function viewWindow() {
  // the map's own coordinates at the canvas's edges, from where two far-apart points are
  // drawn (the view is a scale and a shift of the map)
  const { width, height } = $('#canvas').getBoundingClientRect();
  const [i, j] = state.anchors;
  const [sx0, sy0] = scatterplot.getScreenPosition(i);
  const [sx1, sy1] = scatterplot.getScreenPosition(j);
  if (sx1 === sx0 || sy1 === sy0) return null;
  const { cx, cy, half } = state.norm;
  const gx = (s) => (state.x[i] + ((s - sx0) * (state.x[j] - state.x[i])) / (sx1 - sx0)) * half + cx;
  const gy = (s) => (state.y[i] + ((s - sy0) * (state.y[j] - state.y[i])) / (sy1 - sy0)) * half + cy;
  return { x0: gx(0), x1: gx(width), y0: gy(height), y1: gy(0), width: Math.round(width), height: Math.round(height) };
}

function farApart(tried = 4096) {
  // two points far apart in both directions: the lowest and the highest x + y of a sample
  const step = Math.max(1, Math.floor(state.n / tried));
  let low = 0; let high = 0;
  for (let i = 0; i < state.n; i += step) {
    if (state.x[i] + state.y[i] < state.x[low] + state.y[low]) low = i;
    if (state.x[i] + state.y[i] > state.x[high] + state.y[high]) high = i;
  }
  return [low, high];
}

async function updateDensity() {
  // a table of many objects, zoomed out: the density of the objects in view, counted on
  // the server, under points drawn faint; zoomed in: the points themselves
  if (state.n < state.densityFrom) return;
  const layer = $('#density');
  // a tenth of the table's size it is shown from: 200,000 points in view by default
  const window_ = inViewEstimate() > state.densityFrom / 10 ? viewWindow() : null;
  if (!window_) {
    state.densityAsked += 1;
    layer.hidden = true; delete document.body.dataset.density;
    scatterplot.set({ opacity: +$('#opacity').value });
    return;
  }
  const asked = ++state.densityAsked;
  const blob = await (await api(`/api/density?${new URLSearchParams(window_)}`)).blob();
  if (asked !== state.densityAsked) return; // the view moved on meanwhile
  if (layer.src) URL.revokeObjectURL(layer.src);
  layer.src = URL.createObjectURL(blob);
  await layer.decode();
  layer.hidden = false; document.body.dataset.density = 'shown';
  scatterplot.set({ opacity: 0.02 });
}

async function findObject(query) {
  // by sky position (degrees), else by id or OBJECT name: exact matches, else every object
  // whose name holds the text
  const text = query.trim().toLowerCase();
  if (!text) return [];
  const sky = text.match(/^(-?[\d.]+)[ ,]+(-?[\d.]+)$/);
  await ensureColumns(sky ? ['ra', 'dec'] : ['object']);
  const { ra, dec } = state.columns;
  if (sky && ra && dec) { // the object nearest the position
    const [r0, d0] = [parseFloat(sky[1]), parseFloat(sky[2])].map((v) => (v * Math.PI) / 180);
    let best = -1; let bestCos = -2;
    for (let i = 0; i < state.n; i += 1) {
      if (missing(ra[i]) || missing(dec[i])) continue;
      const [r, d] = [ra[i], dec[i]].map((v) => (v * Math.PI) / 180);
      const cos = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(r - r0);
      if (cos > bestCos) { bestCos = cos; best = i; }
    }
    return best >= 0 ? [best] : [];
  }
  const names = [state.columns.id, state.columns.object].filter(Boolean);
  const exact = []; const partial = [];
  for (let i = 0; i < state.n; i += 1) {
    const found = names.map((column) => (column[i] === null ? '' : String(column[i]).toLowerCase()));
    if (found.includes(text)) exact.push(i);
    else if (found.some((name) => name.includes(text))) partial.push(i);
  }
  return exact.length ? exact : partial;
}

// --- labels and marks, kept at once, undone and redone ----------------------------------

async function save(store, values) {
  // store: 'labels' (class names) or 'marks' ('1' interesting, '0' not); null clears
  state[store] = (await (await postJson(`/api/${store}`, { set: values })).json()).labels;
  refreshLabelColumn();
  showSelection(state.selection);
}

async function keep(store, value, indices = state.selection) {
  if (!indices.length) { say('select objects first'); return false; }
  const ids = indices.map((i) => state.columns.id[i]);
  const before = Object.fromEntries(ids.map((id) => [id, state[store][id] ?? null]));
  const after = Object.fromEntries(ids.map((id) => [id, value || null]));
  try {
    await save(store, after);
  } catch (error) { say(`${store}: ${error.message}`, true); return false; }
  const what = store === 'labels' ? `label ${value ? `"${value}"` : 'cleared'}` : `mark ${{ 1: 'interesting', 0: 'not interesting' }[value] || 'cleared'}`;
  record({ store, before, after, what: `${what} of ${ids.length} object${ids.length > 1 ? 's' : ''}` });
  return true;
}

async function saveLabels(label) {
  if (await keep('labels', label)) {
    say(`${state.selection.length} objects labelled ${label ? `"${label}"` : '(cleared)'}; ${Object.keys(state.labels).length} labels saved (Ctrl+Z undoes)`);
  }
}

async function saveMarks(mark) {
  if (await keep('marks', mark)) {
    const word = { 1: 'interesting', 0: 'not interesting' }[mark] || 'unmarked';
    say(`${state.selection.length} objects marked ${word}; ${Object.keys(state.marks).length} marks saved (Ctrl+Z undoes)`);
  }
}

async function undoOrRedo(again) {
  try {
    const change = again ? await redo(save) : await undo(save);
    say(change ? `${again ? 'redone' : 'undone'}: ${change.what}` : `nothing to ${again ? 'redo' : 'undo'}`);
  } catch (error) { say(`${again ? 'redo' : 'undo'}: ${error.message}`, true); }
}

async function fetchKept() {
  // what is saved now, other tabs' work included
  state.labels = (await (await api('/api/labels')).json()).labels;
  state.marks = (await (await api('/api/marks')).json()).labels;
}

function byRow(kept, value) {
  // a column from values kept by id: one step per kept value, not per object
  const column = new Array(state.n).fill(null);
  for (const [id, v] of Object.entries(kept)) {
    const i = state.rowOfId.get(id);
    if (i !== undefined) column[i] = value(v);
  }
  return column;
}

function refreshLabelColumn() {
  state.columns.label = byRow(state.labels, (v) => v);
  state.columns.interesting = byRow(state.marks, (v) => +v);
  const used = [...new Set(Object.values(state.labels))].sort();
  used.forEach((name) => { if (!state.names.includes(name)) { const free = state.names.indexOf(''); if (free >= 0) state.names[free] = name; } });
  document.querySelectorAll('#names input').forEach((input, k) => { input.value = state.names[k]; });
  fillColumnChoice();
  if (['label', 'interesting'].includes($('#colour').value)) colourBy($('#colour').value);
}

function fillColumnChoice() {
  const select = $('#colour'); const current = select.value;
  const hidden = ['path', 'x', 'y', ...(state.readOnly ? ['label', 'interesting'] : [])];
  const names = columnNames().filter((c) => !hidden.includes(c));
  select.innerHTML = names.map((c) => `<option${c === current ? ' selected' : ''}>${escapeHtml(c)}</option>`).join('');
}

function showPredictions(columns) {
  // the propagated labels: the server's inline columns predicted and probability
  Object.assign(state.columns, decodeColumns({ n: state.n, columns }));
  state.categorical = [...new Set([...state.categorical, 'predicted'])];
  fillColumnChoice();
}

async function propagate() {
  try {
    const found = await (await api('/api/propagate', { method: 'POST' })).json();
    showPredictions(found.columns);
    $('#colour').value = 'predicted';
    colourBy('predicted');
    scatterplot.select(found.next);
    const accuracy = found.accuracy === null ? 'too few labels to cross-validate' : `cross-validated accuracy ${found.accuracy.toFixed(2)}`;
    say(`propagated ${found.classes.length} classes with ${found.method} (${accuracy}); kept with the run; selected: the ${found.next.length} to label next`);
  } catch (error) { say(`propagate: ${error.message}`, true); }
}

async function rerankAnomalies() {
  try {
    const found = decodeColumns({ n: state.n, columns: await (await api('/api/rerank', { method: 'POST' })).json() });
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

// --- handing objects on -----------------------------------------------------------------

function everythingOrSelection() {
  return state.selection.length ? state.selection : [...Array(state.n).keys()];
}

async function exportSelection(format) {
  const indices = everythingOrSelection();
  try {
    const response = await postJson('/api/export', { indices, format });
    const named = (response.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/);
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await response.blob());
    link.download = named ? named[1] : `morphospace.${format}`;
    document.body.appendChild(link); link.click(); link.remove();
    say(`exported ${indices.length} objects as ${link.download}, with labels, marks and predictions`);
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

async function loadTable() {
  // a report holds every column; the explorer's server sends the first paint's, and the
  // labels kept and the last propagated ones are asked for while those come
  const kept = report ? null : Promise.all([api('/api/predictions').then((r) => r.json()), fetchKept()]);
  const { header, columns } = report ? { header: report, columns: decodeColumns(report) } : await fetchColumns();
  state.n = header.n; state.columns = columns; state.categorical = header.categorical || [];
  state.densityFrom = header.density_from ?? Infinity; // a report is never that large
  state.all = header.all || Object.keys(columns);
  state.rowOfId = rowIndex(state.columns.id);
  if (report) {
    document.body.classList.add('read-only');
    document.title = report.title; $('#title').textContent = report.title;
    return;
  }
  const [predicted] = await kept;
  if (predicted.columns) showPredictions(predicted.columns);
}

// --- keys -------------------------------------------------------------------------------

function toggleHelp(show = $('#help').hidden) {
  $('#help').hidden = !show;
}

function onKey(e) {
  if (e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
  const command = e.ctrlKey || e.metaKey;
  if (command && !state.readOnly && e.key.toLowerCase() === 'z') { e.preventDefault(); undoOrRedo(e.shiftKey); return; }
  if (command && !state.readOnly && e.key.toLowerCase() === 'y') { e.preventDefault(); undoOrRedo(true); return; }
  if (command) return;
  if (e.key === '?') { toggleHelp(); return; }
  if (e.key === 'Escape' && !$('#help').hidden) { toggleHelp(false); return; }
  if (triageKey(e)) return;
  if (e.key === 'Escape' && viewing() !== null) { closeView(); return; }
  if (state.readOnly) return;
  if (e.key === 't') { enterTriage(); return; }
  if (e.key === 'v') {
    const i = state.selection.length === 1 ? state.selection[0] : +($('#object').dataset.i ?? NaN);
    if (Number.isInteger(i)) openView(i); else say('select one object first');
    return;
  }
  const k = '123456789'.indexOf(e.key);
  if (k >= 0 && state.names[k]) saveLabels(state.names[k]);
}

async function main() {
  // the drawing canvas is made while the table comes. Its spatial index (for the lasso) is
  // built here, not in regl-scatterplot's worker: from a million points on, the worker is
  // sent a copy of every point, which takes longer than building the index.
  const loaded = loadTable();
  const canvas = $('#canvas');
  const { width, height } = canvas.getBoundingClientRect();
  scatterplot = createScatterplot({ canvas, width, height, spatialIndexUseWorker: false, pointSize: 4, opacity: 0.85, backgroundColor: '#101418', lassoColor: '#ffd166', pointColorActive: '#ffffff', pointColorHover: '#ffd166' });
  await loaded;
  if (!state.columns.x) { say('this table has no map yet: run morphospace report on it first', true); return; }
  [state.x, state.y] = normalisedPositions(state.columns.x, state.columns.y);
  state.anchors = farApart();
  // the density is drawn under the points, which the canvas then leaves transparent
  if (state.n >= state.densityFrom) scatterplot.set({ backgroundColor: [0, 0, 0, 0] });
  scatterplot.subscribe('select', ({ points }) => showSelection([...points]));
  scatterplot.subscribe('deselect', () => showSelection([]));
  scatterplot.subscribe('pointOver', (i) => showObject(i));
  let pending = false;
  scatterplot.subscribe('view', () => {
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; updateThumbs(); }); }
    clearTimeout(densityTimer); densityTimer = setTimeout(() => updateDensity().catch((e) => say(e.message, true)), 150);
  });
  window.addEventListener('resize', () => { const r = canvas.getBoundingClientRect(); scatterplot.set({ width: r.width, height: r.height }); });
  refreshLabelColumn();
  $('#colour').value = state.columns.cluster ? 'cluster' : 'id';
  const drawn = colourBy($('#colour').value);
  $('#colour').addEventListener('change', (e) => colourBy(e.target.value));
  $('#legend').addEventListener('click', legendClick);
  $('#size').addEventListener('input', (e) => scatterplot.set({ pointSize: +e.target.value }));
  $('#tool').addEventListener('change', (e) => scatterplot.set({ lassoType: e.target.value }));
  $('#opacity').addEventListener('input', (e) => scatterplot.set({ opacity: +e.target.value }));
  $('#search').addEventListener('keydown', async (e) => {
    if (e.key !== 'Enter') return;
    let found;
    try { found = await findObject(e.target.value); } catch (error) { say(`search: ${error.message}`, true); return; }
    if (!found.length) { say(`nothing matches "${e.target.value}"`, true); return; }
    state.similarity = new Map();
    scatterplot.select(found); frame(found);
    say(found.length === 1 ? `found ${state.columns.id[found[0]]}` : `${found.length} objects match "${e.target.value}"`);
  });
  $('#more').addEventListener('click', async () => {
    if (!state.selection.length) { say('select objects first'); return; }
    const near = await neighboursOf(state.selection, MORE_LIKE);
    state.similarity = new Map(near.indices.map((j, k) => [j, near.similarity[k]]));
    const chosen = [...state.selection, ...near.indices];
    scatterplot.select(chosen); frame(chosen);
    say(`added the ${near.indices.length} objects most like the selection (cosine similarity under each)`);
  });
  $('#label').addEventListener('click', () => saveLabels($('#name').value.trim()));
  $('#unlabel').addEventListener('click', () => saveLabels(''));
  $('#undo').addEventListener('click', () => undoOrRedo(false));
  $('#redo').addEventListener('click', () => undoOrRedo(true));
  $('#propagate').addEventListener('click', propagate);
  document.querySelectorAll('[data-mark]').forEach((button) => button.addEventListener('click', () => saveMarks(button.dataset.mark)));
  $('#rerank').addEventListener('click', rerankAnomalies);
  $('#samp').addEventListener('click', sendOverSamp);
  document.querySelectorAll('[data-export]').forEach((button) => button.addEventListener('click', () => exportSelection(button.dataset.export)));
  $('#gallery').addEventListener('click', (e) => {
    const f = e.target.closest('figure'); if (!f) return;
    showObject(+f.dataset.i);
    if (!report) openView(+f.dataset.i);
  });
  $('#object').addEventListener('click', (e) => { const b = e.target.closest('[data-view]'); if (b) openView(+b.dataset.view); });
  $('#help-button').addEventListener('click', () => toggleHelp());
  $('#help').addEventListener('click', () => toggleHelp(false));
  document.querySelectorAll('#names input').forEach((input, k) => input.addEventListener('change', () => { state.names[k] = input.value.trim(); }));
  document.addEventListener('keydown', onKey);
  if (!report) {
    setUpView();
    window.addEventListener('focus', () => fetchKept().then(refreshLabelColumn).catch(() => {}));
    setUpTriage({ state, keep, select: (indices) => scatterplot.select(indices) });
  }
  window.morphospaceExplorer = { state, scatterplot, leaveTriage }; // for scripts and tests
  await drawn; // ready: every point drawn and its spatial index built, so a lasso can search it
  await updateDensity();
  document.body.dataset.ready = 'true';  if (!triageActive()) say(`${state.n} objects. ${IDLE}`);
}

main().catch((error) => say(error.message, true));
