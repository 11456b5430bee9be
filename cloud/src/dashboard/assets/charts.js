// Hand-rolled SVG charts for the dashboard: a time-series line chart and horizontal stacked bars.
// No library: the page loads nothing but this origin, and these two shapes are all it draws.
// Each chart carries data-points (how many values it drew) so a test can tell a chart from a frame.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

export function formatNumber(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1);
}

/**
 * A line chart of `points` ({ t: ms, v: number | null }), gaps where v is null.
 * @example lineChart({ title: 'inferences / min', points: [{ t: Date.now(), v: 42 }] })
 */
export function lineChart({ title, points, unit = '', color = '#4cc38a', width = 520, height = 180 }) {
  const pad = { left: 44, right: 12, top: 22, bottom: 22 };
  const drawn = points.filter((p) => p.v !== null && p.v !== undefined);
  const svg = el('svg', {
    class: 'chart line-chart',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': title,
    'data-points': drawn.length,
  });
  svg.append(el('text', { x: pad.left, y: 14, class: 'chart-title' }, title));
  if (drawn.length === 0) {
    svg.append(
      el(
        'text',
        { x: width / 2, y: height / 2, class: 'chart-empty', 'text-anchor': 'middle' },
        'no data yet',
      ),
    );
    return svg;
  }
  const t0 = Math.min(...drawn.map((p) => p.t));
  const tMax = Math.max(...drawn.map((p) => p.t));
  const t1 = tMax > t0 ? tMax : t0 + 60_000;
  const clock = (t) => new Date(t).toISOString().slice(11, t1 - t0 < 600_000 ? 19 : 16);
  const vMax = niceMax(Math.max(...drawn.map((p) => p.v)));
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / vMax) * (height - pad.top - pad.bottom);
  for (const f of [0, 0.5, 1]) {
    svg.append(
      el('line', { x1: pad.left, x2: width - pad.right, y1: y(vMax * f), y2: y(vMax * f), class: 'grid' }),
    );
    svg.append(
      el(
        'text',
        { x: pad.left - 4, y: y(vMax * f) + 4, 'text-anchor': 'end', class: 'axis' },
        `${formatNumber(vMax * f)}${unit}`,
      ),
    );
  }
  svg.append(el('text', { x: pad.left, y: height - 6, class: 'axis' }, clock(t0)));
  svg.append(
    el('text', { x: width - pad.right, y: height - 6, class: 'axis', 'text-anchor': 'end' }, clock(t1)),
  );
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.v === null || p.v === undefined) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    pen = true;
  }
  svg.append(el('path', { d, class: 'series', stroke: color, fill: 'none' }));
  for (const p of drawn) {
    const dot = el('circle', { cx: x(p.t), cy: y(p.v), r: 2.5, fill: color });
    dot.append(el('title', {}, `${clock(p.t)}  ${formatNumber(p.v)}${unit}`));
    svg.append(dot);
  }
  return svg;
}

/**
 * Horizontal stacked bars: one row per `rows[i]` ({ label, values: { part: n } }), parts colored by
 * `parts` ([{ key, label, color }]), with a legend.
 */
export function stackedBars({ title, rows, parts, width = 520 }) {
  const rowHeight = 26;
  const pad = { left: 120, right: 40, top: 24, bottom: 26 };
  const height = pad.top + rows.length * rowHeight + pad.bottom;
  const max = Math.max(1, ...rows.map((r) => parts.reduce((s, p) => s + (r.values[p.key] ?? 0), 0)));
  const scale = (width - pad.left - pad.right) / max;
  let drawn = 0;
  const svg = el('svg', {
    class: 'chart bar-chart',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': title,
  });
  svg.append(el('text', { x: 0, y: 14, class: 'chart-title' }, title));
  rows.forEach((row, i) => {
    const top = pad.top + i * rowHeight;
    svg.append(el('text', { x: pad.left - 8, y: top + 16, 'text-anchor': 'end', class: 'axis' }, row.label));
    let left = pad.left;
    let total = 0;
    for (const part of parts) {
      const value = row.values[part.key] ?? 0;
      if (value <= 0) continue;
      const rect = el('rect', {
        x: left,
        y: top + 4,
        width: value * scale,
        height: rowHeight - 8,
        fill: part.color,
        'data-part': part.key,
      });
      rect.append(el('title', {}, `${row.label}: ${part.label} ${value}`));
      svg.append(rect);
      left += value * scale;
      total += value;
      drawn += 1;
    }
    svg.append(el('text', { x: left + 6, y: top + 16, class: 'axis' }, formatNumber(total)));
  });
  let legendX = pad.left;
  for (const part of parts) {
    svg.append(el('rect', { x: legendX, y: height - 16, width: 10, height: 10, fill: part.color }));
    svg.append(el('text', { x: legendX + 14, y: height - 7, class: 'axis' }, part.label));
    legendX += 24 + part.label.length * 7;
  }
  svg.setAttribute('data-points', String(drawn));
  return svg;
}

/**
 * Several series on one time axis, with a legend: `series` is [{ label, color, points }], points as
 * in lineChart. `thresholds` ([{ value, label }]) draw dashed reference lines (say PSI warn/alert).
 * @example multiLineChart({ title: 'PSI', series: [{ label: 'brightness', color: '#f06a6a', points }] })
 */
export function multiLineChart({ title, series, thresholds = [], unit = '', width = 520, height = 200 }) {
  const pad = { left: 44, right: 12, top: 22, bottom: 40 };
  const drawn = series.flatMap((s) => s.points.filter((p) => p.v !== null && p.v !== undefined));
  const svg = el('svg', {
    class: 'chart line-chart multi-line-chart',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': title,
    'data-points': drawn.length,
    'data-series': series.length,
  });
  svg.append(el('text', { x: pad.left, y: 14, class: 'chart-title' }, title));
  if (drawn.length === 0) {
    svg.append(
      el(
        'text',
        { x: width / 2, y: height / 2, class: 'chart-empty', 'text-anchor': 'middle' },
        'no data yet',
      ),
    );
    return svg;
  }
  const t0 = Math.min(...drawn.map((p) => p.t));
  const tMax = Math.max(...drawn.map((p) => p.t));
  const t1 = tMax > t0 ? tMax : t0 + 60_000;
  const clock = (t) => new Date(t).toISOString().slice(11, t1 - t0 < 600_000 ? 19 : 16);
  const vMax = niceMax(Math.max(...drawn.map((p) => p.v), ...thresholds.map((l) => l.value)));
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / vMax) * (height - pad.top - pad.bottom);
  for (const f of [0, 0.5, 1]) {
    svg.append(
      el('line', { x1: pad.left, x2: width - pad.right, y1: y(vMax * f), y2: y(vMax * f), class: 'grid' }),
    );
    svg.append(
      el(
        'text',
        { x: pad.left - 4, y: y(vMax * f) + 4, 'text-anchor': 'end', class: 'axis' },
        `${formatNumber(vMax * f)}${unit}`,
      ),
    );
  }
  for (const line of thresholds) {
    svg.append(
      el('line', {
        x1: pad.left,
        x2: width - pad.right,
        y1: y(line.value),
        y2: y(line.value),
        stroke: '#6b7385',
        'stroke-dasharray': '4 3',
      }),
    );
    svg.append(
      el(
        'text',
        { x: width - pad.right, y: y(line.value) - 3, class: 'axis', 'text-anchor': 'end' },
        line.label,
      ),
    );
  }
  const axisY = height - pad.bottom + 14;
  svg.append(el('text', { x: pad.left, y: axisY, class: 'axis' }, clock(t0)));
  svg.append(el('text', { x: width - pad.right, y: axisY, class: 'axis', 'text-anchor': 'end' }, clock(t1)));
  let legendX = pad.left;
  for (const s of series) {
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (p.v === null || p.v === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
      pen = true;
    }
    svg.append(el('path', { d, class: 'series', stroke: s.color, fill: 'none', 'data-series': s.label }));
    for (const p of s.points) {
      if (p.v === null || p.v === undefined) continue;
      const dot = el('circle', { cx: x(p.t), cy: y(p.v), r: 2.2, fill: s.color });
      dot.append(el('title', {}, `${s.label} ${clock(p.t)}  ${formatNumber(p.v)}${unit}`));
      svg.append(dot);
    }
    svg.append(el('rect', { x: legendX, y: height - 14, width: 10, height: 10, fill: s.color }));
    svg.append(el('text', { x: legendX + 14, y: height - 5, class: 'axis' }, s.label));
    legendX += 24 + s.label.length * 6.5;
  }
  return svg;
}

/**
 * A strip of states over time: `segments` [{ from, until, state }] (ms), colored by `colors[state]`.
 * data-points counts the segments drawn.
 */
export function stateTimeline({ title, segments, colors, width = 520 }) {
  const height = 52;
  const pad = { left: 12, right: 12, top: 20, bottom: 14 };
  const svg = el('svg', {
    class: 'chart timeline-chart',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': title,
    'data-points': segments.length,
  });
  svg.append(el('text', { x: pad.left, y: 13, class: 'chart-title' }, title));
  if (segments.length === 0) return svg;
  const t0 = Math.min(...segments.map((s) => s.from));
  const t1 = Math.max(t0 + 60_000, ...segments.map((s) => s.until));
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  for (const s of segments) {
    const rect = el('rect', {
      x: x(s.from),
      y: pad.top,
      width: Math.max(1.5, x(s.until) - x(s.from)),
      height: height - pad.top - pad.bottom,
      fill: colors[s.state] ?? '#6b7385',
      'data-state': s.state,
    });
    rect.append(el('title', {}, `${new Date(s.from).toISOString().slice(11, 19)} ${s.state}`));
    svg.append(rect);
  }
  return svg;
}
