// A reader for the Prometheus text format (what GET /metrics returns), enough for the
// metrics page: samples, sums over label sets, and histogram quantiles.

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseValue(v) {
  if (v === "+Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  return Number(v);  // "NaN" becomes NaN
}

// [{name, labels, value}] for every sample line; comments and malformed lines are skipped.
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      for (const l of m[2].matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    out.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  return out;
}

const matches = (labels, filter) => Object.entries(filter).every(([k, v]) => labels[k] === v);

// Sum of `name` over the series whose labels include `filter`; null when there is none.
export function sum(samples, name, filter = {}) {
  let total = null;
  for (const s of samples) {
    if (s.name === name && matches(s.labels, filter) && !Number.isNaN(s.value)) total = (total ?? 0) + s.value;
  }
  return total;
}

// Values of `name` by one label: {labelValue: value}.
export function byLabel(samples, name, label) {
  const out = {};
  for (const s of samples) if (s.name === name && s.labels[label] !== undefined) out[s.labels[label]] = s.value;
  return out;
}

// A histogram summed over its label sets: [[le, cumulative count], ...] sorted by le.
export function histogram(samples, name, filter = {}) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !matches(s.labels, filter)) continue;
    const le = parseValue(s.labels.le);
    byLe.set(le, (byLe.get(le) || 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]);
}

// The buckets of `now` minus those of `before` (the observations between two scrapes).
export function histogramDelta(now, before) {
  const prev = new Map(before || []);
  return now.map(([le, c]) => [le, Math.max(0, c - (prev.get(le) || 0))]);
}

// The q-quantile as Prometheus' histogram_quantile() estimates it (linear within the
// bucket); null without observations. The +Inf bucket answers the largest finite bound.
export function quantile(buckets, q) {
  if (!buckets.length) return null;
  const total = buckets[buckets.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
