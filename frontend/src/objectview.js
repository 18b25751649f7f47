// The object view: one object's pixels, large, as DS9 or CARTA shows them. The server
// stretches them (astropy.visualization: /api/view/{i}.png); the page draws the scale bar,
// the beam, the N/E compass and the value and sky position under the pointer.
import { $, api, escapeHtml, shortNumber } from './util.js';

const NICE_ARCSEC = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
const view = { i: null, geometry: null, onClose: null, pending: false };

function settings() {
  return {
    stretch: $('#view-stretch').value,
    interval: $('#view-interval').value,
    cmap: $('#view-cmap').value,
    channel: $('#view-channel').value,
  };
}

function pictureUrl(i) {
  const query = new URLSearchParams(settings());
  return `/api/view/${i}.png?${query}`;
}

export function viewing() {
  return view.i;
}

export async function openView(i, { caption = '', onClose = null } = {}) {
  view.i = i; view.onClose = onClose;
  const panel = $('#view');
  panel.hidden = false;
  $('#view-caption').textContent = caption;
  $('#view-readout').textContent = 'point at the image for the pixel value and sky position';
  const geometry = await (await api(`/api/view/${i}.json`)).json();
  if (view.i !== i) return; // another object was asked for meanwhile
  view.geometry = geometry;
  $('#view-title').textContent = geometry.id;
  $('#view-path').textContent = geometry.path;
  const channels = $('#view-channel');
  channels.innerHTML = '<option value="moment0">moment 0</option>'
    + geometry.channel_values.map((v, k) => `<option value="${k}">channel ${k}: ${shortNumber(v)} ${escapeHtml(geometry.channel_unit)}</option>`).join('')
    + (geometry.channels && !geometry.channel_values.length ? Array.from({ length: geometry.channels }, (_, k) => `<option value="${k}">channel ${k}</option>`).join('') : '');
  $('#view-channel-label').hidden = geometry.channels === 0;
  await draw();
}

export function closeView() {
  if (view.i === null) return;
  view.i = null;
  $('#view').hidden = true;
  const done = view.onClose; view.onClose = null;
  if (done) done();
}

async function draw() {
  const i = view.i;
  const image = $('#view-image');
  await new Promise((resolve) => {
    image.onload = resolve; image.onerror = resolve;
    image.src = pictureUrl(i);
  });
  if (view.i === i) overlay();
}

function fitted() {
  // the picture's size on screen, kept to its shape inside the stage
  const { width, height } = view.geometry;
  const stage = $('#view-stage').getBoundingClientRect();
  const zoom = Math.min(stage.width / width, stage.height / height);
  return { zoom, w: width * zoom, h: height * zoom };
}

function niceLength(arcsecPerScreenPixel, target) {
  const wanted = arcsecPerScreenPixel * target;
  return NICE_ARCSEC.reduce((best, v) => (Math.abs(Math.log(v / wanted)) < Math.abs(Math.log(best / wanted)) ? v : best));
}

function arcsecText(v) {
  if (v >= 60 && v % 60 === 0) return `${v / 60}′`;
  return `${v}″`;
}

function overlay() {
  const g = view.geometry;
  const { zoom, w, h } = fitted();
  const image = $('#view-image');
  Object.assign(image.style, { width: `${w}px`, height: `${h}px` });
  const svg = $('#view-overlay');
  svg.setAttribute('width', w); svg.setAttribute('height', h);
  svg.style.width = `${w}px`; svg.style.height = `${h}px`;
  const parts = [];
  if (g.pixel_scale) {
    const arcsec = niceLength(g.pixel_scale / zoom, w * 0.25);
    const length = (arcsec / g.pixel_scale) * zoom;
    const y = h - 14;
    parts.push(`<g id="scale-bar" data-arcsec="${arcsec}" data-pixels="${arcsec / g.pixel_scale}">`
      + `<line x1="${w - 12 - length}" x2="${w - 12}" y1="${y}" y2="${y}" stroke="white" stroke-width="3"/>`
      + `<text x="${w - 12 - length / 2}" y="${y - 6}" fill="white" text-anchor="middle">${arcsecText(arcsec)}</text></g>`);
  }
  if (g.beam) {
    const [major, minor, angle] = g.beam;
    const rx = Math.max(1, (major * zoom) / 2); const ry = Math.max(1, (minor * zoom) / 2);
    const cx = 12 + Math.max(rx, ry); const cy = h - 12 - Math.max(rx, ry);
    parts.push(`<ellipse id="beam" cx="${cx}" cy="${cy}" rx="${rx}" ry="${ry}" transform="rotate(${angle} ${cx} ${cy})" fill="none" stroke="#7fdbff" stroke-width="1.5"><title>beam</title></ellipse>`);
  }
  if (g.north && g.east) {
    const cx = w - 40; const cy = 40; const r = 26;
    for (const [name, [dx, dy]] of [['N', g.north], ['E', g.east]]) {
      const x = cx + dx * r; const y = cy + dy * r;
      parts.push(`<line class="compass" x1="${cx}" y1="${cy}" x2="${x}" y2="${y}" stroke="white" stroke-width="1.5"/>`
        + `<text x="${cx + dx * (r + 9)}" y="${cy + dy * (r + 9) + 4}" fill="white" text-anchor="middle">${name}</text>`);
    }
  }
  svg.innerHTML = parts.join('');
  $('#view-scale').textContent = g.pixel_scale
    ? `${g.width}×${g.height} px · ${shortNumber(g.pixel_scale)}″/px${g.beam ? ' · beam shown bottom left' : ''}`
    : `${g.width}×${g.height} px · no celestial WCS: no scale, compass or sky position`;
}

async function readout(event) {
  if (view.i === null || !view.geometry || view.pending) return;
  const rect = $('#view-image').getBoundingClientRect();
  const x = ((event.clientX - rect.left) / rect.width) * view.geometry.width;
  const y = ((event.clientY - rect.top) / rect.height) * view.geometry.height;
  if (x < 0 || y < 0 || x >= view.geometry.width || y >= view.geometry.height) return;
  view.pending = true;
  try {
    const query = new URLSearchParams({ x, y, channel: settings().channel });
    const at = await (await api(`/api/view/${view.i}/at?${query}`)).json();
    const value = at.value === null ? 'blank' : `${shortNumber(at.value)} ${view.geometry.unit}`;
    const sky = at.ra === null ? '' : ` · RA ${at.ra.toFixed(6)}° Dec ${at.dec.toFixed(6)}°`;
    $('#view-readout').textContent = `pixel (${at.x}, ${at.y}) · ${value}${sky}`;
  } catch (error) { $('#view-readout').textContent = error.message; } finally { view.pending = false; }
}

export function setUpView() {
  ['#view-stretch', '#view-interval', '#view-cmap', '#view-channel'].forEach((s) => $(s).addEventListener('change', () => { if (view.i !== null) draw(); }));
  $('#view-close').addEventListener('click', closeView);
  $('#view-stage').addEventListener('mousemove', readout);
  window.addEventListener('resize', () => { if (view.i !== null && view.geometry) overlay(); });
}
