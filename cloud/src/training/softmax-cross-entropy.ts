import { scratch } from './layer.ts';

export interface LossResult {
  /** Mean cross-entropy over the batch. */
  loss: number;
  /** How many samples the arg-max of the logits got right. */
  correct: number;
  /** dLoss/dLogits, [classes][batch]; owned by the caller's buffer. */
  gradient: Float32Array;
}

/**
 * Softmax + cross-entropy on [classes][batch] logits, fused because the gradient is then simply
 * (softmax − one-hot) / batch and the log-sum-exp stays numerically stable.
 */
export class SoftmaxCrossEntropy {
  private gradient: Float32Array = new Float32Array(0);

  constructor(readonly classes: number) {}

  evaluate(logits: Float32Array, labels: ArrayLike<number>, batch: number): LossResult {
    const C = this.classes;
    this.gradient = scratch(this.gradient, C * batch);
    const grad = this.gradient;
    let loss = 0;
    let correct = 0;
    for (let b = 0; b < batch; b++) {
      let max = -Infinity;
      let best = 0;
      for (let c = 0; c < C; c++) {
        const v = logits[c * batch + b]!;
        if (v > max) {
          max = v;
          best = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < C; c++) {
        const e = Math.exp(logits[c * batch + b]! - max);
        grad[c * batch + b] = e;
        sum += e;
      }
      const label = labels[b]!;
      loss += Math.log(sum) - (logits[label * batch + b]! - max);
      if (best === label) correct++;
      for (let c = 0; c < C; c++) {
        const p = grad[c * batch + b]! / sum;
        grad[c * batch + b] = (p - (c === label ? 1 : 0)) / batch;
      }
    }
    return { loss: loss / batch, correct, gradient: grad };
  }
}
