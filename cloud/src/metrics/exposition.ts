// A small parser for the Prometheus text exposition format (0.0.4), strict enough to catch what
// breaks a scrape or a dashboard: samples without HELP/TYPE, malformed names, labels or values,
// histograms missing their _bucket{le}/_sum/_count, and label sets that differ within a family.

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count', ''],
  counter: ['', '_total'],
};

export class ExpositionError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionError';
  }
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  const pattern = /\s*([^=\s]+)\s*=\s*"((?:[^"\\]|\\[\\"n])*)"\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    pattern.lastIndex = at;
    const m = pattern.exec(text);
    if (!m) throw new ExpositionError(line, `malformed labels {${text}}`);
    const [, name = '', raw = ''] = m;
    if (!LABEL_NAME.test(name) || name.startsWith('__'))
      throw new ExpositionError(line, `bad label name ${name}`);
    if (name in labels) throw new ExpositionError(line, `label ${name} repeated`);
    labels[name] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    at = pattern.lastIndex;
  }
  return labels;
}

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text))
    throw new ExpositionError(line, `bad value ${text}`);
  return Number(text);
}

/** Parses and checks an exposition; throws ExpositionError naming the first offending line. */
export function parseExposition(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  let current: MetricFamily | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
    if (meta) {
      const [, kind, name = '', rest = ''] = meta;
      if (!NAME.test(name)) throw new ExpositionError(line, `bad metric name ${name}`);
      let family = families.get(name);
      if (!family) {
        family = { name, help: '', type: 'untyped', samples: [] };
        families.set(name, family);
      }
      if (kind === 'HELP') family.help = rest;
      else if (!TYPES.has(rest)) throw new ExpositionError(line, `unknown type ${rest}`);
      else family.type = rest as MetricFamily['type'];
      current = family;
      return;
    }
    if (raw.startsWith('#')) return;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(raw);
    if (!sample) throw new ExpositionError(line, `malformed sample: ${raw}`);
    const [, name = '', labelText = '', value = ''] = sample;
    if (!current) throw new ExpositionError(line, `sample ${name} before any HELP/TYPE`);
    const suffix = name.slice(current.name.length);
    const allowed = SUFFIXES[current.type] ?? [''];
    if (!name.startsWith(current.name) || !allowed.includes(suffix)) {
      throw new ExpositionError(
        line,
        `sample ${name} does not belong to family ${current.name} (${current.type})`,
      );
    }
    const labels = parseLabels(labelText, line);
    if (current.type === 'histogram' && suffix === '_bucket' && labels['le'] === undefined) {
      throw new ExpositionError(line, `histogram bucket ${name} without le`);
    }
    current.samples.push({ name, labels, value: parseValue(value, line) });
  });
  for (const family of families.values()) {
    if (family.help === '') throw new ExpositionError(0, `${family.name} has no HELP`);
    if (family.type === 'histogram' && family.samples.length > 0) {
      for (const suffix of ['_sum', '_count']) {
        if (!family.samples.some((s) => s.name === family.name + suffix))
          throw new ExpositionError(0, `histogram ${family.name} lacks ${suffix}`);
      }
    }
    // One label set per family (bar le/quantile), so a dashboard query means the same on every series.
    const keys = new Set(
      family.samples.map((s) =>
        Object.keys(s.labels)
          .filter((k) => k !== 'le' && !(family.type === 'summary' && k === 'quantile'))
          .sort()
          .join(','),
      ),
    );
    if (keys.size > 1)
      throw new ExpositionError(0, `${family.name} mixes label sets: ${[...keys].join(' | ')}`);
  }
  return [...families.values()];
}
