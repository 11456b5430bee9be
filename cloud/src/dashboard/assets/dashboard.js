// The fleet dashboard: hash routes over the operator API, re-rendered by polling. The token comes
// from `#token=…` once (then leaves the address bar) or the form, and stays in sessionStorage.
import { formatNumber, lineChart, stackedBars } from './charts.js';
import { alertsPanel, driftPage } from './health.js';
import { lastRunLine, retrainingPage } from './retraining.js';

const POLL_MS = 5000;
const TOKEN_KEY = 'edgeloop.dashboard.token';
const main = document.getElementById('view');
const status = document.getElementById('status');

const CONNECTION_PARTS = [
  { key: 'online', label: 'online', color: '#4cc38a' },
  { key: 'offline', label: 'offline', color: '#f06a6a' },
  { key: 'unknown', label: 'unknown', color: '#6b7385' },
];
const WAVE_PARTS = [
  { key: 'pending', label: 'pending', color: '#6b7385' },
  { key: 'inProgress', label: 'downloading', color: '#5b9cf0' },
  { key: 'active', label: 'active', color: '#4cc38a' },
  { key: 'failed', label: 'failed', color: '#f06a6a' },
];

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const section = (title, ...children) => h('section', {}, h('h2', {}, title), ...children);
const ago = (iso) => {
  if (!iso) return 'never';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : new Date(iso).toLocaleString();
};
const modelRef = (m) => (m ? `${m.name} v${m.version} (${m.variant})` : '–');

function table(columns, rows, testid) {
  return h(
    'table',
    { 'data-testid': testid },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', {}, c.label)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          {},
          columns.map((c) => h('td', {}, c.cell(row))),
        ),
      ),
    ),
  );
}

// ── API ──────────────────────────────────────────────────────────────────────────────────────────

class Unauthorized extends Error {}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token()}` } });
  if (res.status === 401 || res.status === 403) throw new Unauthorized((await res.json()).message);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

const series = async (metric, deviceId) => {
  const q = new URLSearchParams({ metric, bucket: 'minute', ...(deviceId ? { deviceId } : {}) });
  const body = await api(`/api/v1/fleet/timeseries?${q}`);
  return body.points.map((p) => ({ t: Date.parse(p.bucket), v: p.value }));
};

// ── Pages ────────────────────────────────────────────────────────────────────────────────────────

async function overview() {
  const [alerts, retraining, summary, inferences, errors, latency] = await Promise.all([
    alertsPanel(healthUi),
    lastRunLine(healthUi),
    api('/api/v1/fleet/summary'),
    series('inferences'),
    series('errors'),
    series('latency_p95'),
  ]);
  const count = (k) => summary.devices.reduce((s, d) => s + d[k], 0);
  const tile = (label, value, id) =>
    h('div', { class: 'tile' }, h('b', { 'data-testid': id }, value), h('span', {}, label));
  return [
    h(
      'div',
      { class: 'tiles' },
      tile('online', count('online'), 'online'),
      tile('offline', count('offline'), 'offline'),
      tile('inferences, last hour', formatNumber(summary.lastHour.inferences), 'inferences'),
      tile('errors, last hour', formatNumber(summary.lastHour.errors), 'errors'),
      tile('p95 latency, last hour', `${formatNumber(summary.lastHour.latencyP95Ms)} ms`, 'latency'),
    ),
    alerts,
    retraining,
    h(
      'div',
      { class: 'grid' },
      section('Inferences per minute', lineChart({ title: 'inferences / min', points: inferences })),
      section('Errors per minute', lineChart({ title: 'errors / min', points: errors, color: '#f06a6a' })),
      section(
        'Latency p95',
        lineChart({ title: 'p95 latency (ms)', points: latency, unit: ' ms', color: '#f2b14c' }),
      ),
      section(
        'Connection by device class',
        stackedBars({
          title: 'devices',
          rows: summary.devices.map((d) => ({ label: d.deviceClass, values: d })),
          parts: CONNECTION_PARTS,
        }),
      ),
      section(
        'Active model versions',
        stackedBars({
          title: 'devices per version',
          rows: summary.versions.map((v) => ({
            label: v.model ? `${v.model} v${v.version} ${v.variant}` : 'no model',
            values: { devices: v.devices },
          })),
          parts: [{ key: 'devices', label: 'devices', color: '#5b9cf0' }],
        }),
      ),
    ),
  ];
}

async function deviceList() {
  const { items, total } = await api('/api/v1/devices?limit=200');
  return [
    section(
      `Devices (${total})`,
      table(
        [
          { label: 'device', cell: (d) => h('a', { href: `#/device/${encodeURIComponent(d.id)}` }, d.id) },
          { label: 'class', cell: (d) => d.deviceClass },
          { label: 'status', cell: (d) => h('span', { class: `pill ${d.status}` }, d.status) },
          { label: 'model', cell: (d) => modelRef(d.activeModel) },
          { label: 'agent', cell: (d) => d.agentVersion ?? '–' },
          { label: 'last seen', cell: (d) => ago(d.lastSeenAt) },
        ],
        items,
        'device-rows',
      ),
    ),
  ];
}

/** Which models the device ran, oldest first, from its recent windows (newest first). */
function modelHistory(windows) {
  const history = [];
  for (const w of [...windows].reverse()) {
    const model = w.model ?? 'no model';
    const last = history.at(-1);
    if (last && last.model === model) last.until = w.windowEnd;
    else history.push({ model, from: w.windowStart, until: w.windowEnd });
  }
  return history.reverse();
}

async function device(id) {
  const [d, telemetry] = await Promise.all([
    api(`/api/v1/devices/${encodeURIComponent(id)}`),
    api(`/api/v1/devices/${encodeURIComponent(id)}/telemetry?limit=120`),
  ]);
  const windows = [...telemetry.windows].reverse();
  const points = (f) => windows.map((w) => ({ t: Date.parse(w.windowEnd), v: f(w) }));
  const classes = windows.reduce((sum, w) => {
    w.classCounts.forEach((n, i) => {
      sum[i] = (sum[i] ?? 0) + n;
    });
    return sum;
  }, []);
  return [
    section(
      `Device ${d.id}`,
      deviceFacts(d),
      h('details', {}, h('summary', {}, 'reported state'), h('pre', {}, JSON.stringify(d.reported, null, 2))),
    ),
    h(
      'div',
      { class: 'grid' },
      section(
        'Inferences per window',
        lineChart({ title: 'inferences', points: points((w) => w.inferences) }),
      ),
      section(
        'Latency per window',
        lineChart({
          title: 'p95 latency (ms)',
          points: points((w) => w.latencyP95Ms),
          unit: ' ms',
          color: '#f2b14c',
        }),
      ),
      section(
        'Mean confidence per window',
        lineChart({ title: 'confidence', points: points((w) => w.meanConfidence), color: '#5b9cf0' }),
      ),
      section(
        'Predicted classes (recent windows)',
        stackedBars({
          title: 'predictions per class',
          rows: classes.map((n, i) => ({ label: `class ${i}`, values: { n } })),
          parts: [{ key: 'n', label: 'predictions', color: '#4cc38a' }],
        }),
      ),
    ),
    section(
      'Model history (from recent telemetry)',
      table(
        [
          { label: 'model', cell: (r) => r.model },
          { label: 'from', cell: (r) => new Date(r.from).toLocaleString() },
          { label: 'until', cell: (r) => new Date(r.until).toLocaleString() },
        ],
        modelHistory(telemetry.windows),
        'model-history',
      ),
    ),
  ];
}

function deviceFacts(d) {
  const facts = [
    ['class', d.deviceClass],
    ['status', d.status],
    ['last seen', ago(d.lastSeenAt)],
    ['model', modelRef(d.activeModel)],
    ['agent', d.agentVersion ?? '–'],
    ['group', d.group ?? '–'],
  ];
  return h(
    'dl',
    { 'data-testid': 'device-state' },
    facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

async function rollouts(selected) {
  const { items } = await api('/api/v1/rollouts?limit=50');
  const current = items.find((r) => r.id === selected) ?? items[0];
  const list = section(
    `Rollouts (${items.length})`,
    table(
      [
        { label: 'rollout', cell: (r) => h('a', { href: `#/rollouts/${encodeURIComponent(r.id)}` }, r.id) },
        { label: 'model', cell: (r) => `${r.model} v${r.version}` },
        { label: 'status', cell: (r) => h('span', { class: `pill ${r.status}` }, r.status) },
        { label: 'wave', cell: (r) => `${Math.min(r.currentWave + 1, r.waves.length)} / ${r.waves.length}` },
        { label: 'active', cell: (r) => `${r.totals.active} / ${r.totals.total}` },
        { label: 'created', cell: (r) => ago(r.createdAt) },
      ],
      items,
      'rollout-rows',
    ),
  );
  if (!current) return [list];
  const { items: events } = await api(`/api/v1/rollouts/${encodeURIComponent(current.id)}/events?limit=200`);
  return [
    h(
      'div',
      { class: 'grid' },
      section(
        `Waves of ${current.id} (${current.status})`,
        stackedBars({
          title: `${current.model} v${current.version}: devices per wave`,
          rows: current.waves.map((w) => ({
            label: `wave ${w.index + 1} · ${w.status}`,
            values: { ...w.counts, failed: w.counts.failed + w.counts.timedOut },
          })),
          parts: WAVE_PARTS,
        }),
        table(
          [
            { label: 'wave', cell: (w) => w.index + 1 },
            { label: 'status', cell: (w) => w.status },
            { label: 'success gate', cell: (w) => `≥ ${w.params.successThreshold}% active` },
            { label: 'failure gate', cell: (w) => `> ${w.params.failureThreshold}% failed` },
            { label: 'soak', cell: (w) => `${w.params.minSoakSeconds}s` },
          ],
          current.waves,
          'wave-gates',
        ),
      ),
      list,
    ),
    section(
      'Events',
      table(
        [
          { label: 'at', cell: (e) => new Date(e.at).toLocaleTimeString() },
          { label: 'event', cell: (e) => e.kind },
          { label: 'wave', cell: (e) => (e.wave === null ? '' : e.wave + 1) },
          { label: 'device', cell: (e) => e.deviceId ?? '' },
          { label: 'reason', cell: (e) => e.reason },
        ],
        [...events].reverse(),
        'rollout-events',
      ),
    ),
  ];
}

async function models(only) {
  const { items: all } = await api('/api/v1/models');
  const items = only ? all.filter((m) => m.name === only) : all;
  const sections = [];
  for (const model of items) {
    const detail = await api(`/api/v1/models/${encodeURIComponent(model.name)}`);
    const versions = await Promise.all(
      detail.versions.map((v) =>
        api(`/api/v1/models/${encodeURIComponent(model.name)}/versions/${v.version}`),
      ),
    );
    const rows = versions.flatMap((v) =>
      v.variants.map((variant) => ({ label: `v${v.version} ${variant.variant}`, version: v, variant })),
    );
    const metric = (pick) =>
      rows.map((r) => ({ label: r.label, values: { v: pick(r.variant.metrics ?? {}, r.variant) } }));
    const bars = (title, pick, color) =>
      stackedBars({ title, rows: metric(pick), parts: [{ key: 'v', label: title, color }] });
    sections.push(
      section(
        `${model.name} — ${Object.entries(model.aliases)
          .map(([a, v]) => `${a} → v${v}`)
          .join(', ')}`,
        h(
          'div',
          { class: 'grid' },
          bars(
            'accuracy (%)',
            (m) => (typeof m.accuracy === 'number' ? Math.round(m.accuracy * 1000) / 10 : 0),
            '#4cc38a',
          ),
          bars('size (KiB)', (_m, v) => Math.round(v.size / 102.4) / 10, '#5b9cf0'),
          bars('p95 latency, batch 1 (ms)', (m) => m.latency?.b1?.p95 ?? 0, '#f2b14c'),
        ),
        table(
          [
            { label: 'version', cell: (v) => `v${v.version}` },
            { label: 'aliases', cell: (v) => v.aliases.join(', ') },
            { label: 'created', cell: (v) => new Date(v.createdAt).toLocaleString() },
            { label: 'lineage', cell: (v) => h('code', {}, lineage(v.lineage)) },
          ],
          versions,
          'model-versions',
        ),
      ),
    );
  }
  return sections.length ? sections : [section('Models', h('p', {}, 'No models registered yet.'))];
}

function lineage(l) {
  const parts = [];
  if (l.parentVersion) parts.push(`from v${l.parentVersion}`);
  const d = l.dataset;
  if (typeof d === 'string') parts.push(`dataset ${d}`);
  else if (d) parts.push(`dataset ${d.name ?? '?'}${d.source?.kind ? ` (${d.source.kind})` : ''}`);
  if (l.datasetHash) parts.push(`data ${String(l.datasetHash).slice(0, 12)}`);
  if (l.gitCommit) parts.push(`commit ${String(l.gitCommit).slice(0, 8)}`);
  return parts.length ? parts.join(' · ') : JSON.stringify(l);
}

/** What the alerts panel, the drift page (health.js) and the retraining page (retraining.js) use of this page. */
const healthUi = { api, h, section, table, ago, token, refresh: () => void render() };

// ── Router and polling ───────────────────────────────────────────────────────────────────────────

function route() {
  const [page = 'overview', arg] = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  switch (page) {
    case 'devices':
      return { page, load: deviceList };
    case 'device':
      return { page: 'devices', load: () => device(arg) };
    case 'rollouts':
      return { page, load: () => rollouts(arg) };
    case 'models':
      return { page, load: () => models(arg) };
    case 'drift':
      return { page, load: () => driftPage(healthUi) };
    case 'retraining':
      return { page, load: () => retrainingPage(healthUi, arg) };
    default:
      return { page: 'overview', load: overview };
  }
}

let generation = 0;
let timer;

async function render() {
  clearTimeout(timer);
  const mine = ++generation;
  const { page, load } = route();
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.dataset.page === page);
  try {
    const content = await load();
    if (mine !== generation) return;
    main.replaceChildren(...content);
    document.body.dataset.state = 'ready';
    document.body.dataset.page = page;
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof Unauthorized) {
      sessionStorage.removeItem(TOKEN_KEY);
      document.body.dataset.state = 'need-token';
      status.textContent = `token refused: ${err.message}`;
      return;
    }
    status.textContent = `update failed: ${err.message} (retrying)`;
  }
  timer = setTimeout(render, POLL_MS);
}

function start() {
  const fromHash = /^#token=([^&]+)/.exec(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromHash[1]));
    // Out of the address bar (and history) before anything else runs.
    history.replaceState(null, '', `${location.pathname}#/overview`);
  }
  document.getElementById('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
    document.body.dataset.state = 'loading';
    void render();
  });
  window.addEventListener('hashchange', () => void render());
  if (token()) void render();
  else document.body.dataset.state = 'need-token';
}

start();
