// How a column colours the map: the one rule of morphospace.report.palette, so a cluster or
// a class has the same colour on the page, in the PNG maps and in the DS9 regions.
// Whole numbers n (cluster n) take the n-th colour and -1 (no cluster) the noise grey;
// names take the colours in alphabetical order. A continuous column is drawn in viridis.

export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1',
  '#ff9da7', '#9c755f', '#bab0ac', '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
export const NOISE = '#808080';
export const NO_VALUE = '#555b63';
export const RAMP = Array.from({ length: 32 }, (_, i) => viridis(i / 31));

function viridis(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const at = Math.min(stops.length - 2, Math.floor(t * (stops.length - 1)));
  const f = t * (stops.length - 1) - at;
  const c = stops[at].map((v, k) => Math.round(v + f * (stops[at + 1][k] - v)));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

export function extent(values) {
  // a loop: spreading a million values into Math.min overflows the call stack
  let low = Infinity; let high = -Infinity;
  for (const v of values) { if (v < low) low = v; if (v > high) high = v; }
  return [low, high];
}

function whole(text) {
  const number = Number(text);
  return text !== '' && Number.isInteger(number) ? number : null;
}

export function categoryColours(names) {
  // names: the distinct values as text; returns Map name -> colour
  const sorted = [...names].sort(); // code-point order, as Python's sorted()
  const numbers = sorted.map(whole);
  if (numbers.every((n) => n !== null)) {
    return new Map(sorted.map((name, k) => [name, numbers[k] < 0 ? NOISE : PALETTE[numbers[k] % PALETTE.length]]));
  }
  return new Map(sorted.map((name, k) => [name, PALETTE[k % PALETTE.length]]));
}

function naturalOrder(a, b) {
  return a.localeCompare(b, undefined, { numeric: true });
}

export function missing(v) {
  // no value: null, empty text, or NaN in a column of numbers
  return v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));
}

export function encoding(values, categorical) {
  // categorical: named groups, text, or few distinct whole numbers; otherwise continuous.
  // values: an array, or a typed array of numbers (NaN: no value)
  const n = values.length;
  const distinctSet = new Set();
  let numeric = true;
  for (let i = 0; i < n; i += 1) {
    const v = values[i];
    if (missing(v)) continue;
    if (typeof v !== 'number') numeric = false;
    if (distinctSet.size <= 1000 || !numeric) distinctSet.add(v);
  }
  const distinct = [...distinctSet];
  if (categorical || !numeric || (distinct.length <= 20 && distinct.every(Number.isInteger))) {
    const names = distinct.map(String).sort(naturalOrder);
    const colours = categoryColours(names);
    const code = new Map(names.map((name, k) => [name, k + 1]));
    const valueA = new Float32Array(n);
    for (let i = 0; i < n; i += 1) valueA[i] = missing(values[i]) ? 0 : code.get(String(values[i]));
    const pointColours = [NO_VALUE, ...names.map((name) => colours.get(name))];
    return {
      kind: 'categorical', valueA, colours: pointColours,
      groups: names.map((name, k) => ({ name, colour: pointColours[k + 1], code: k + 1 })),
      colourOf: (i) => pointColours[valueA[i]],
    };
  }
  let low = Infinity; let high = -Infinity;
  for (let i = 0; i < n; i += 1) {
    const v = values[i];
    if (!missing(v)) { if (v < low) low = v; if (v > high) high = v; }
  }
  const span = high > low ? high - low : 1;
  const valueB = new Float32Array(n);
  for (let i = 0; i < n; i += 1) valueB[i] = missing(values[i]) ? 0 : (values[i] - low) / span;
  return {
    kind: 'continuous', valueB, colours: RAMP, low, high,
    colourOf: (i) => (missing(values[i]) ? NO_VALUE : RAMP[Math.round(valueB[i] * 31)]),
  };
}
