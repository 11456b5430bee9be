// Retraining on the dashboard: the runs (newest first, live progress while one runs), the selected
// run's gate verdict and lineage, each model's policy, the samples counts, and a grid of the latest
// unlabelled low-confidence samples an operator can confirm or relabel. The page's DOM and API
// helpers come in as `ui` (see dashboard.js), so this module depends on charts.js only.
import { formatNumber } from './charts.js';

const RUNS_SHOWN = 50;
const SAMPLES_SHOWN = 12;
/** Preview enlargement: a 28×28 digit becomes 112 px, bigger images are shrunk by CSS. */
const PREVIEW_SCALE = 4;
const ACTIVE = new Set(['queued', 'training', 'evaluating', 'canary']);
const GATE_SET = {
  maxBaseAccuracyDrop: { key: 'base', label: 'original test set' },
  minEdgeAccuracyGain: { key: 'edge', label: 'edge holdout' },
};

/** Per sample: preview data URL (promise), chosen label, last error — kept across re-renders. */
const previews = new Map();
const chosen = new Map();
const refusals = new Map();
let lastLabelled = '';

const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '–');
const pts = (v) => (typeof v === 'number' ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} pts` : '–');
const duration = (s) => (s % 86_400 === 0 ? `${s / 86_400} d` : s % 3600 === 0 ? `${s / 3600} h` : `${s} s`);
const notMounted = (err) => /HTTP 404$/.test(err.message);

function versionLink(h, model, version) {
  if (version === null || version === undefined) return '–';
  return h(
    'a',
    { href: `#/models/${encodeURIComponent(model)}`, 'data-testid': 'version-link' },
    `v${version}`,
  );
}

function rolloutLink(h, id) {
  return id
    ? h('a', { href: `#/rollouts/${encodeURIComponent(id)}`, 'data-testid': 'rollout-link' }, id)
    : '–';
}

function triggerText(run) {
  const d = run.triggerDetail ?? {};
  if (run.trigger === 'manual') return `manual by ${d.requestedBy ?? run.createdBy}`;
  const features = Array.isArray(d.drifted) && d.drifted.length ? d.drifted.join(', ') : 'no feature named';
  const where = d.scope ? ` on ${String(d.scope).replace(/^device_class:/, '')}` : '';
  return `drift${d.state ? ` (${d.state})` : ''}${where}: ${features}`;
}

function progressBar(h, run) {
  const p = run.progress;
  return h(
    'div',
    { class: 'run-progress', 'data-testid': 'run-progress' },
    h('progress', { max: 1, value: p.fraction, 'aria-label': `${run.id} progress` }),
    h('span', {}, `${Math.round(p.fraction * 100)}% · ${p.stage}: ${p.message}`),
  );
}

/** What a run is doing now: the progress bar while it runs, else how it ended. */
function stateCell(h, run) {
  return ACTIVE.has(run.status) ? progressBar(h, run) : run.reason || run.progress.message;
}

/** One line for the overview: the newest run, any model. */
export async function lastRunLine({ api, h, section, ago }) {
  let runs;
  try {
    ({ items: runs } = await api('/api/v1/retrain/runs?limit=1'));
  } catch (err) {
    if (notMounted(err)) return null;
    throw err;
  }
  const run = runs[0];
  const line = run
    ? [
        h('a', { href: `#/retraining/${encodeURIComponent(run.id)}` }, run.id),
        ` ${run.model} `,
        h('span', { class: `pill ${run.status}` }, run.status),
        ` ${triggerText(run)} · `,
        ACTIVE.has(run.status)
          ? `${Math.round(run.progress.fraction * 100)}% ${run.progress.message}`
          : run.reason,
        ` · ${ago(run.createdAt)}`,
      ]
    : 'No retraining run yet.';
  return section('Last retraining run', h('p', { 'data-testid': 'last-retrain', class: 'oneline' }, line));
}

function runsTable({ h, table, ago }, runs, current) {
  return table(
    [
      {
        label: 'run',
        cell: (r) =>
          h(
            'a',
            {
              href: `#/retraining/${encodeURIComponent(r.id)}`,
              class: r.id === current?.id ? 'current' : null,
            },
            r.id,
          ),
      },
      { label: 'model', cell: (r) => r.model },
      { label: 'status', cell: (r) => h('span', { class: `pill ${r.status}` }, r.status) },
      { label: 'trigger', cell: triggerText },
      {
        label: 'champion → challenger',
        cell: (r) => [
          versionLink(h, r.model, r.championVersion),
          ' → ',
          versionLink(h, r.model, r.challengerVersion),
        ],
      },
      { label: 'progress / outcome', cell: (r) => stateCell(h, r) },
      { label: 'created', cell: (r) => ago(r.createdAt) },
    ],
    runs,
    'retrain-runs',
  );
}

/** Champion vs challenger per variant and gate, each check passed or failed with its reason. */
function verdict({ h, table }, run) {
  const e = run.evaluation;
  if (!e) return h('p', { 'data-testid': 'gate-verdict-none' }, 'Not evaluated yet.');
  const sizes = e.sets ?? {};
  const rows = (e.checks ?? []).map((check) => {
    const set = GATE_SET[check.gate] ?? { key: 'base', label: check.gate };
    const acc = e.variants?.[check.variant] ?? {};
    const count = sizes[set.key]?.count;
    return {
      ...check,
      set: `${set.label}${count === undefined ? '' : ` (${count})`}`,
      champion: acc.champion?.[set.key],
      challenger: acc.challenger?.[set.key],
    };
  });
  return [
    h(
      'p',
      { 'data-testid': 'gate-verdict' },
      h('span', { class: `pill ${e.passed ? 'passed' : 'failed'}` }, e.passed ? 'passed' : 'failed'),
      ` ${run.reason}`,
    ),
    table(
      [
        { label: 'variant', cell: (c) => c.variant },
        { label: 'measured on', cell: (c) => c.set },
        { label: 'champion', cell: (c) => pct(c.champion) },
        { label: 'challenger', cell: (c) => pct(c.challenger) },
        { label: 'change', cell: (c) => pts(c.delta) },
        { label: 'gate', cell: (c) => c.gate },
        {
          label: 'verdict',
          cell: (c) =>
            h('span', { class: `pill ${c.passed ? 'passed' : 'failed'}` }, c.passed ? 'pass' : 'fail'),
        },
        { label: 'reason', cell: (c) => c.message },
      ],
      rows,
      'gate-checks',
    ),
  ];
}

function lineage({ h }, run) {
  const l = run.lineage ?? {};
  const base = l.baseDataset;
  const s = l.samples;
  if (!base && !s) return h('p', { 'data-testid': 'lineage-none' }, 'No data assembled yet.');
  const windows = Object.entries(s?.windows ?? {}).map(([device, w]) => `${device}: ${w}`);
  const facts = [
    [
      'base dataset',
      base ? `${base.name}@${base.version} (test ${base.test}, from v${base.fromModelVersion})` : '–',
    ],
    ['merged dataset', l.dataset ? `${l.dataset.name}@${l.dataset.version} (train ${l.dataset.train})` : '–'],
    ['edge samples', s ? `${s.usable} usable: ${s.train} train, ${s.holdout} held out` : '–'],
    ['devices', s?.devices?.length ? `${s.devices.length}: ${s.devices.join(', ')}` : '–'],
    ['windows', windows.length ? windows.join(' · ') : '–'],
    [
      'labels from',
      s?.labelSources
        ? Object.entries(s.labelSources)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')
        : '–',
    ],
  ];
  return h(
    'dl',
    { 'data-testid': 'run-lineage' },
    facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

function runDetail(ui, run) {
  const { h, section, ago } = ui;
  const facts = [
    ['status', h('span', { class: `pill ${run.status}` }, run.status)],
    ['trigger', triggerText(run)],
    ['champion', versionLink(h, run.model, run.championVersion)],
    ['challenger', versionLink(h, run.model, run.challengerVersion)],
    ['canary rollout', rolloutLink(h, run.rolloutId)],
    ['created', `${ago(run.createdAt)} by ${run.createdBy}`],
    ['finished', run.finishedAt ? ago(run.finishedAt) : '–'],
  ];
  return section(
    `Run ${run.id} — ${run.model}`,
    h(
      'dl',
      { 'data-testid': 'run-facts' },
      facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    ),
    ACTIVE.has(run.status) ? progressBar(h, run) : null,
    h('h2', {}, 'Gate verdict'),
    verdict(ui, run),
    h('h2', {}, 'Lineage'),
    lineage(ui, run),
  );
}

function policyTable({ table }, policies) {
  return table(
    [
      { label: 'model', cell: (p) => p.model },
      { label: 'enabled', cell: (p) => (p.policy.enabled ? 'yes' : 'no') },
      { label: 'trigger', cell: (p) => `drift at ${p.policy.triggerState}` },
      { label: 'min labelled', cell: (p) => p.policy.minLabelledSamples },
      { label: 'cooldown', cell: (p) => duration(p.policy.cooldownSeconds) },
      { label: 'recent window', cell: (p) => duration(p.policy.recentWindowSeconds) },
      { label: 'edge holdout', cell: (p) => `${Math.round(p.policy.edgeHoldoutFraction * 100)}%` },
      {
        label: 'gates',
        cell: (p) =>
          `base loss ≤ ${pts(p.policy.gates.maxBaseAccuracyDrop).slice(1)}, edge gain ≥ ${pts(p.policy.gates.minEdgeAccuracyGain).slice(1)}`,
      },
      {
        label: 'canary',
        cell: (p) =>
          `${(p.policy.rollout?.waves ?? []).map((w) => `${w.percent}%`).join(' → ')} → ${p.policy.target ? p.policy.target.kind : 'devices running it'}`,
      },
      { label: 'source', cell: (p) => (p.stored ? 'set' : 'defaults') },
    ],
    policies,
    'retrain-policies',
  );
}

function statsTable({ table }, versions) {
  return table(
    [
      { label: 'model', cell: (v) => `${v.model} v${v.version}` },
      { label: 'samples', cell: (v) => formatNumber(v.total) },
      { label: 'labelled by device', cell: (v) => formatNumber(v.labelledBy.device) },
      { label: 'labelled by operator', cell: (v) => formatNumber(v.labelledBy.operator) },
      { label: 'unlabelled', cell: (v) => formatNumber(v.unlabelled) },
    ],
    versions,
    'sample-stats',
  );
}

/** The sample's PNG as a data URL (img-src allows data:, and an <img> cannot send the token). */
function preview(ui, id) {
  let pending = previews.get(id);
  if (!pending) {
    pending = fetch(`/api/v1/samples/${id}/image.png?scale=${PREVIEW_SCALE}`, {
      headers: { authorization: `Bearer ${ui.token()}` },
    })
      .then(async (res) => {
        if (!res.ok) return null;
        const blob = await res.blob();
        return new Promise((resolve) => {
          const reader = new FileReader();
          reader.onload = () => resolve(reader.result);
          reader.onerror = () => resolve(null);
          reader.readAsDataURL(blob);
        });
      })
      .catch(() => null);
    previews.set(id, pending);
  }
  return pending;
}

async function label(ui, sample, body, what) {
  const res = await fetch(`/api/v1/samples/${sample.id}/label`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ui.token()}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.ok) {
    refusals.delete(sample.id);
    lastLabelled = `Sample ${sample.sampleId} from ${sample.device} labelled ${what}.`;
  } else {
    const message = (await res.json().catch(() => ({}))).error?.message ?? `HTTP ${res.status}`;
    refusals.set(
      sample.id,
      res.status === 401 || res.status === 403
        ? `Not labelled: labelling needs an operator token (${message}).`
        : `Not labelled: ${message}`,
    );
  }
  ui.refresh();
}

function sampleCard(ui, sample, classes, image) {
  const { h } = ui;
  const name = (i) => (classes?.[i] === undefined ? `class ${i}` : classes[i]);
  const select = h(
    'select',
    { 'aria-label': `label for sample ${sample.id}` },
    (classes ?? []).map((c, i) => h('option', { value: i }, `${i}: ${c}`)),
  );
  select.value = String(chosen.get(sample.id) ?? sample.prediction);
  select.addEventListener('change', () => chosen.set(sample.id, Number(select.value)));
  const confirm = h(
    'button',
    { type: 'button', 'data-action': 'confirm' },
    `Confirm ${name(sample.prediction)}`,
  );
  const set = h('button', { type: 'button', 'data-action': 'set' }, 'Set label');
  const busy = () => {
    confirm.disabled = true;
    set.disabled = true;
  };
  confirm.addEventListener('click', () => {
    busy();
    void label(ui, sample, { confirm: true }, `${name(sample.prediction)} (confirmed)`);
  });
  set.addEventListener('click', () => {
    busy();
    const value = Number(select.value);
    void label(ui, sample, { label: value }, name(value));
  });
  const refusal = refusals.get(sample.id);
  return h(
    'figure',
    { class: 'sample', 'data-testid': 'sample-card', 'data-sample': sample.id },
    image
      ? h('img', { src: image, alt: `sample ${sample.sampleId}`, width: 112, height: 112 })
      : h('div', { class: 'no-preview' }, 'no preview'),
    h(
      'figcaption',
      {},
      h('b', {}, `${name(sample.prediction)} · ${Math.round(sample.confidence * 100)}%`),
      h('br'),
      `${sample.device} · ${sample.model} v${sample.version}`,
    ),
    h('div', { class: 'sample-actions' }, confirm, classes?.length ? [select, set] : null),
    refusal ? h('p', { class: 'refusal', 'data-testid': 'label-error', role: 'alert' }, refusal) : null,
  );
}

async function samplesSection(ui, models) {
  const { api, h, section } = ui;
  const [{ versions }, { items }] = await Promise.all([
    api('/api/v1/samples/stats'),
    api(`/api/v1/samples?labelled=false&reason=low-confidence&limit=${SAMPLES_SHOWN}`),
  ]);
  const classes = new Map(models.map((m) => [m.name, m.classes]));
  // Forget what belongs to samples no longer shown (labelled meanwhile, or pushed off the grid).
  const shown = new Set(items.map((s) => s.id));
  for (const cache of [previews, chosen, refusals])
    for (const id of cache.keys()) if (!shown.has(id)) cache.delete(id);
  const images = await Promise.all(items.map((s) => preview(ui, s.id)));
  return section(
    'Retraining samples',
    versions.length ? statsTable(ui, versions) : h('p', {}, 'No samples received yet.'),
    h('h2', {}, `Latest unlabelled low-confidence samples (${items.length})`),
    lastLabelled ? h('p', { 'data-testid': 'label-done' }, lastLabelled) : null,
    items.length
      ? h(
          'div',
          { class: 'sample-grid', 'data-testid': 'sample-grid' },
          items.map((s, i) => sampleCard(ui, s, classes.get(s.model), images[i])),
        )
      : h('p', { 'data-testid': 'samples-none' }, 'Nothing to label: no unlabelled low-confidence sample.'),
  );
}

/** The retraining page; `selected` is a run id from the address (default: the newest run). */
export async function retrainingPage(ui, selected) {
  const { api, h, section } = ui;
  let runs;
  try {
    ({ items: runs } = await api(`/api/v1/retrain/runs?limit=${RUNS_SHOWN}`));
  } catch (err) {
    if (!notMounted(err)) throw err;
    return [section('Retraining', h('p', {}, 'Retraining is not enabled on this cloud.'))];
  }
  const { items: models } = await api('/api/v1/models');
  const [current, policies, samples] = await Promise.all([
    selected && !runs.some((r) => r.id === selected)
      ? api(`/api/v1/retrain/runs/${encodeURIComponent(selected)}`)
      : (runs.find((r) => r.id === selected) ?? runs[0]),
    Promise.all(models.map((m) => api(`/api/v1/models/${encodeURIComponent(m.name)}/retrain-policy`))),
    samplesSection(ui, models),
  ]);
  return [
    section(
      `Retraining runs (${runs.length})`,
      runs.length
        ? runsTable(ui, runs, current)
        : h('p', { 'data-testid': 'runs-none' }, 'No retraining run yet: drift or an operator starts one.'),
    ),
    current ? runDetail(ui, current) : null,
    section(
      'Policies',
      policies.length ? policyTable(ui, policies) : h('p', {}, 'No models registered yet.'),
    ),
    samples,
  ].filter(Boolean);
}
