// Overall progress from per-phase progress. A job runs phases of very different lengths (training
// dwarfs registration), so each phase gets a weight and reports only its own 0..1; the overall
// fraction is what a progress bar shows, the phase name and detail what it says.

export interface ProgressUpdate {
  phase: string;
  /** Overall, 0..1. */
  fraction: number;
  /** What the phase is doing ("epoch 1/2, batch 40/219"), when it says. */
  detail?: string;
}

export type ProgressSink = (update: ProgressUpdate) => void;

/** Reports progress within one phase: `fraction` of that phase, 0..1. */
export type PhaseReporter = (fraction: number, detail?: string) => void;

export class PhasedProgress {
  readonly #sink: ProgressSink;
  readonly #starts = new Map<string, { start: number; weight: number }>();

  /** `phases`: name and relative weight, in the order they run. */
  constructor(sink: ProgressSink, phases: readonly (readonly [string, number])[]) {
    this.#sink = sink;
    const total = phases.reduce((sum, [, w]) => sum + w, 0);
    let start = 0;
    for (const [name, weight] of phases) {
      this.#starts.set(name, { start: start / total, weight: weight / total });
      start += weight;
    }
  }

  /** Enters `name` (reported at once, at 0) and returns its reporter. */
  phase(name: string, detail?: string): PhaseReporter {
    const span = this.#starts.get(name);
    if (span === undefined) throw new RangeError(`unknown phase ${name}`);
    const report: PhaseReporter = (fraction, text) => {
      const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
      this.#sink({
        phase: name,
        fraction: span.start + span.weight * clamped,
        ...(text === undefined ? {} : { detail: text }),
      });
    };
    report(0, detail);
    return report;
  }
}
