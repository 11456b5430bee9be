// Classification metrics from predictions and labels: pure, no model involved.

export interface ClassMetrics {
  class: string;
  precision: number;
  recall: number;
  support: number;
}

/** confusion[actual][predicted] = count. */
export function confusionMatrix(labels: Uint8Array, predictions: Uint8Array, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const row = m[labels[i]!];
    const p = predictions[i]!;
    if (row && p < classes) row[p]!++;
  }
  return m;
}

export function accuracyOf(confusion: number[][]): number {
  let right = 0;
  let total = 0;
  confusion.forEach((row, i) => {
    for (const [j, v] of row.entries()) {
      total += v;
      if (i === j) right += v;
    }
  });
  return total === 0 ? 0 : right / total;
}

/** Precision and recall per class; 0 where a class was never predicted or never present. */
export function perClassMetrics(confusion: number[][], classNames: string[]): ClassMetrics[] {
  return confusion.map((row, c) => {
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + (r[c] ?? 0), 0);
    const hits = row[c] ?? 0;
    return {
      class: classNames[c] ?? String(c),
      precision: predicted === 0 ? 0 : hits / predicted,
      recall: support === 0 ? 0 : hits / support,
      support,
    };
  });
}
