import type { Parameter } from './layer.ts';

/** Adam (Kingma & Ba) with bias correction, the optimiser the PyTorch anchor used. */
export class Adam {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private step = 0;

  constructor(
    private readonly parameters: readonly Parameter[],
    public learningRate = 1e-3,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = parameters.map((p) => new Float32Array(p.value.length));
    this.v = parameters.map((p) => new Float32Array(p.value.length));
  }

  /** Applies one update from the gradients currently held by the parameters. */
  update(): void {
    this.step++;
    const { beta1, beta2, epsilon } = this;
    // Folding both bias corrections into the step size saves two divisions per weight.
    const stepSize = (this.learningRate * Math.sqrt(1 - beta2 ** this.step)) / (1 - beta1 ** this.step);
    const epsHat = epsilon * Math.sqrt(1 - beta2 ** this.step);
    this.parameters.forEach((p, k) => {
      const m = this.m[k]!;
      const v = this.v[k]!;
      const w = p.value;
      const g = p.grad;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * gi;
        const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i]! -= (stepSize * mi) / (Math.sqrt(vi) + epsHat);
      }
    });
  }
}
