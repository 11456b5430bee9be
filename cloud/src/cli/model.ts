// `edgeloop model list|show|alias set`: the registry as people read it. The operations that take
// a while (train, import, quantize, eval, watch) are in model-jobs.ts.
import { z } from 'zod';
import { AliasChange, ModelDetail, ModelSummary, VersionDetail } from '../api/models/schemas.ts';
import { CLIENT_OPTIONS, clientFrom } from './api-client.ts';
import { type CliCommand, CliUsageError, EXIT } from './command.ts';
import { keyValues, printJson, table, wantsJson } from './output.ts';

type Version = z.infer<typeof VersionDetail>;

export function percent(value: unknown): string | null {
  return typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : null;
}

export function kib(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

const ms = (value: unknown) => (typeof value === 'number' ? value.toFixed(3) : null);

export function positiveInt(value: string | undefined, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliUsageError(`${what} must be a positive whole number, got "${value}"`);
  return n;
}

interface EvaluationView {
  accuracy?: number;
  perClass?: { class: string; precision: number; recall: number; support: number }[];
  latency?: { b1?: { p50: number; p95: number }; b32?: { p50: number; p95: number } | null } | null;
}

function versionBlock(v: Version): string {
  const lineage = v.lineage as {
    trainer?: string;
    codeVersion?: string;
    parentVersion?: number;
    dataset?: { name: string; version: string };
    trainingParameters?: Record<string, unknown>;
  };
  const metrics = (v.metrics ?? {}) as {
    champion?: {
      championVersion: number | null;
      skipped?: string;
      variants?: Record<
        string,
        { agreement: number; top1DeltaPoints: number; latencyRatioB1: number; sizeRatio: number }
      >;
    };
  };
  const head = keyValues([
    ['model', v.model],
    ['version', v.version],
    ['created', v.createdAt],
    ['aliases', v.aliases.join(', ')],
    ['trainer', lineage.trainer],
    ['dataset', lineage.dataset ? `${lineage.dataset.name} (${lineage.dataset.version})` : null],
    ['parameters', lineage.trainingParameters ? JSON.stringify(lineage.trainingParameters) : null],
    ['code', lineage.codeVersion],
    ['parent', lineage.parentVersion],
  ]);
  const evaluation = (variant: string) =>
    (v.variants.find((x) => x.variant === variant)?.metrics ?? {}) as EvaluationView;
  const variants = table(
    ['VARIANT', 'SIZE', 'ACCURACY', 'B1 P50 MS', 'B1 P95 MS', 'B32 P50 MS', 'SESSION OPTIONS', 'SHA256'],
    v.variants.map((x) => {
      const e = x.metrics as EvaluationView | null;
      return [
        x.variant,
        kib(x.size),
        percent(e?.accuracy),
        ms(e?.latency?.b1?.p50),
        ms(e?.latency?.b1?.p95),
        ms(e?.latency?.b32?.p50),
        Object.entries(x.manifest.sessionOptions)
          .map(([k, val]) => `${k}=${val}`)
          .join(' '),
        x.sha256.slice(0, 12),
      ];
    }),
  );
  const names = v.variants.map((x) => x.variant);
  const classes = evaluation(names[0] ?? 'fp32').perClass ?? [];
  const perClass = classes.length
    ? `\n${table(
        [
          'CLASS',
          'SUPPORT',
          ...names.flatMap((n) => [`${n.toUpperCase()} PRECISION`, `${n.toUpperCase()} RECALL`]),
        ],
        classes.map((c, i) => [
          c.class,
          c.support,
          ...names.flatMap((n) => {
            const m = evaluation(n).perClass?.[i];
            return [percent(m?.precision), percent(m?.recall)];
          }),
        ]),
      )}`
    : '';
  const champion = metrics.champion;
  const against = champion?.championVersion
    ? Object.entries(champion.variants ?? {})
        .map(
          ([variant, c]) =>
            `against champion v${champion.championVersion} (${variant}): agreement ${percent(c.agreement)}, top-1 ${c.top1DeltaPoints >= 0 ? '+' : ''}${c.top1DeltaPoints.toFixed(2)} points, latency ×${c.latencyRatioB1.toFixed(2)}, size ×${c.sizeRatio.toFixed(2)}`,
        )
        .join('\n')
    : `champion comparison: ${champion?.skipped ?? 'none'}`;
  return `${head}\n${variants}${perClass}\n${against}\n`;
}

const list: CliCommand = {
  path: ['model', 'list'],
  summary: 'list models with their latest version and aliases',
  options: { ...CLIENT_OPTIONS },
  async run({ values, io }) {
    const { items } = await clientFrom(values, io).request(
      'GET',
      '/api/v1/models',
      z.object({ items: z.array(ModelSummary) }),
    );
    if (wantsJson(values)) printJson(io, { items });
    else
      io.out(
        table(
          ['NAME', 'LATEST', 'ALIASES', 'CLASSES', 'DESCRIPTION'],
          items.map((m) => [
            m.name,
            m.latestVersion,
            Object.entries(m.aliases)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([a, v]) => `${a}=v${v}`)
              .join(', '),
            m.classes.length,
            m.description,
          ]),
        ),
      );
    return EXIT.ok;
  },
};

const show: CliCommand = {
  path: ['model', 'show'],
  summary: 'show a model, or one version: lineage, accuracy, per-class precision/recall, latency, size',
  args: '<name> [<version>]',
  positionals: { min: 1, max: 2 },
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const client = clientFrom(values, io);
    const name = encodeURIComponent(positionals[0] as string);
    if (positionals[1] !== undefined) {
      const version = positiveInt(positionals[1], '<version>');
      const detail = await client.request('GET', `/api/v1/models/${name}/versions/${version}`, VersionDetail);
      if (wantsJson(values)) printJson(io, detail);
      else io.out(versionBlock(detail));
      return EXIT.ok;
    }
    const model = await client.request('GET', `/api/v1/models/${name}`, ModelDetail);
    if (wantsJson(values)) {
      printJson(io, model);
      return EXIT.ok;
    }
    const byVersion = new Map<number, string[]>();
    for (const [alias, v] of Object.entries(model.aliases))
      byVersion.set(v, [...(byVersion.get(v) ?? []), alias]);
    io.out(
      `${keyValues([
        ['name', model.name],
        ['description', model.description],
        ['classes', model.classes.join(', ')],
        ['created', model.createdAt],
      ])}\n${table(
        ['VERSION', 'CREATED', 'VARIANTS', 'ALIASES'],
        model.versions.map((v) => [
          v.version,
          v.createdAt,
          v.variants.join(', '),
          (byVersion.get(v.version) ?? []).join(', '),
        ]),
      )}`,
    );
    return EXIT.ok;
  },
};

const aliasSet: CliCommand = {
  path: ['model', 'alias', 'set'],
  summary: 'point an alias (champion, challenger, any name) at a version',
  args: '<name> <alias> <version>',
  positionals: { min: 3, max: 3 },
  options: { ...CLIENT_OPTIONS },
  async run({ values, positionals, io }) {
    const [name, alias, version] = positionals as [string, string, string];
    const change = await clientFrom(values, io).request(
      'PUT',
      `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
      AliasChange,
      { version: positiveInt(version, '<version>') },
    );
    if (wantsJson(values)) printJson(io, change);
    else
      io.out(
        `${change.alias} of ${change.model} now points at v${change.version}${change.previousVersion ? ` (was v${change.previousVersion})` : ''}.\n`,
      );
    return EXIT.ok;
  },
};

export const modelCommands: CliCommand[] = [list, show, aliasSet];
