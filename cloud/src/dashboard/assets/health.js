// Fleet health on the dashboard: the open-alerts panel of the overview and the drift page (PSI per
// feature over time for each model version × fleet slice, the most drifted features named, and the
// drift state over time). The page's DOM and API helpers come in as `ui`, so this module depends on
// charts.js only.
import { formatNumber, multiLineChart, stateTimeline } from './charts.js';

const FEATURE_COLORS = ['#f06a6a', '#f2b14c', '#5b9cf0', '#4cc38a', '#b58cf0', '#4cc3c3'];
const STATE_COLORS = { alert: '#f06a6a', warn: '#f2b14c', ok: '#4cc38a', 'insufficient-data': '#6b7385' };
const STATE_ORDER = { alert: 0, warn: 1, ok: 2, 'insufficient-data': 3 };
/** Features drawn per slice: the most drifted ones; the rest are in the reports. */
const MAX_FEATURES = 6;
/** PSI levels of the default drift thresholds (shared DEFAULT_DRIFT_THRESHOLDS). */
const PSI_LINES = [
  { value: 0.1, label: 'warn 0.1' },
  { value: 0.2, label: 'alert 0.2' },
];

/** Open alerts, newest first, each row marked with its severity's colour. */
export async function alertsPanel({ api, h, section, table, ago }) {
  const { items } = await api('/api/v1/alerts?state=open&limit=50');
  if (items.length === 0) {
    return section('Alerts', h('p', { 'data-testid': 'alerts-none', class: 'dim' }, 'No open alerts.'));
  }
  return section(
    `Alerts (${items.length} open)`,
    table(
      [
        { label: 'severity', cell: (a) => h('span', { class: `pill ${a.severity}` }, a.severity) },
        { label: 'kind', cell: (a) => a.kind.replace('_', ' ') },
        { label: 'alert', cell: (a) => a.message },
        { label: 'opened', cell: (a) => ago(a.openedAt) },
        { label: 'last seen', cell: (a) => ago(a.lastSeenAt) },
      ],
      items,
      'alert-rows',
    ),
  );
}

/** Reports of one model, grouped per version × scope, oldest first within a slice. */
function slices(model, reports) {
  const bySlice = new Map();
  for (const r of reports) {
    const key = `${r.version}|${r.scopeKind}|${r.scope}`;
    if (!bySlice.has(key))
      bySlice.set(key, { model, version: r.version, scopeKind: r.scopeKind, scope: r.scope, reports: [] });
    bySlice.get(key).reports.push(r);
  }
  for (const s of bySlice.values()) s.reports.reverse();
  return [...bySlice.values()];
}

/** The latest report's features at warn or alert, most drifted first (the detector's ranking). */
function mostDrifted(report) {
  return report.features.filter((f) => f.level !== 'ok').slice(0, 3);
}

function sliceSection(slice, { h, section }) {
  const latest = slice.reports.at(-1).report;
  const t = (r) => Date.parse(r.windowEnd);
  // The features that ever drifted most in this period, by their highest PSI.
  const peak = new Map();
  for (const r of slice.reports)
    for (const f of r.report.features)
      if (f.psi !== null) peak.set(f.feature, Math.max(peak.get(f.feature) ?? 0, f.psi));
  const features = [...peak.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_FEATURES)
    .map(([feature]) => feature);
  const series = features.map((feature, i) => ({
    label: feature,
    color: FEATURE_COLORS[i % FEATURE_COLORS.length],
    points: slice.reports.map((r) => ({
      t: t(r),
      v: r.report.features.find((f) => f.feature === feature)?.psi ?? null,
    })),
  }));
  const segments = slice.reports.map((r, i) => ({
    from: Date.parse(r.windowStart),
    until: i + 1 < slice.reports.length ? t(slice.reports[i + 1]) : t(r),
    state: r.report.state,
  }));
  const named = mostDrifted(latest);
  const where = slice.scopeKind === 'group' ? `group ${slice.scope || '(none)'}` : slice.scope;
  return section(
    `${slice.model} v${slice.version} · ${where}`,
    h(
      'p',
      { 'data-testid': 'drift-summary' },
      h('span', { class: `pill ${latest.state}` }, latest.state),
      ` ${slice.reports.length} evaluations, latest on ${formatNumber(latest.samples)} samples. `,
      named.length
        ? [
            'Most drifted: ',
            h(
              'b',
              {},
              named.map((f) => `${f.feature} (PSI ${f.psi === null ? '–' : f.psi.toFixed(2)})`).join(', '),
            ),
          ]
        : 'No feature drifted in the latest evaluation.',
    ),
    multiLineChart({
      title: `PSI per feature — ${slice.model} v${slice.version} ${where}`,
      series,
      thresholds: PSI_LINES,
    }),
    stateTimeline({ title: 'drift state', segments, colors: STATE_COLORS }),
  );
}

/** Slices judged against their own collected baseline (after a drift-triggered promotion, or set by hand). */
function baselinesSection(baselines, ui) {
  const { h, section, table, ago } = ui;
  if (baselines.length === 0) return null;
  return section(
    'Drift baselines',
    h(
      'p',
      {},
      'These slices are judged against what they saw after the baseline was set, not against the version’s validation data (edgeloop drift baseline list|set|remove).',
    ),
    table(
      [
        { label: 'Model', cell: (b) => `${b.model} v${b.version}` },
        { label: 'Slice', cell: (b) => `${b.scopeKind === 'group' ? 'group' : 'class'} ${b.scope}` },
        {
          label: 'State',
          cell: (b) =>
            b.status === 'active'
              ? `active since ${ago(b.activatedAt)} (${b.collectedSamples} samples)`
              : `collecting ${b.collectedSamples}/${b.targetSamples}`,
        },
        { label: 'Set by', cell: (b) => b.requestedBy },
        { label: 'Why', cell: (b) => b.reason },
      ],
      baselines,
      'drift-baselines',
    ),
  );
}

/** The drift page: one section per model version × slice, drifting ones first. */
export async function driftPage(ui) {
  const { api, h, section } = ui;
  const { items: models } = await api('/api/v1/models');
  const { baselines } = await api('/api/v1/drift/baselines');
  const all = [];
  for (const model of models) {
    const { reports } = await api(`/api/v1/drift?model=${encodeURIComponent(model.name)}&limit=500`);
    all.push(...slices(model.name, reports));
  }
  if (all.length === 0) {
    const none = [
      baselinesSection(baselines, ui),
      section(
        'Drift',
        h(
          'p',
          { 'data-testid': 'drift-none' },
          'No drift reports yet: the drift monitor stores one per model version and device class once enough telemetry arrived.',
        ),
      ),
    ];
    return none.filter(Boolean);
  }
  all.sort(
    (a, b) =>
      STATE_ORDER[a.reports.at(-1).report.state] - STATE_ORDER[b.reports.at(-1).report.state] ||
      a.model.localeCompare(b.model) ||
      b.version - a.version ||
      a.scope.localeCompare(b.scope),
  );
  return [
    baselinesSection(baselines, ui),
    h(
      'div',
      { class: 'grid' },
      all.map((s) => sliceSection(s, ui)),
    ),
  ].filter(Boolean);
}
