/**
 * The outgoing side of the artifact server: at most `maxInFlight` chunk publishes awaiting their
 * PUBACK, at most `maxQueued` waiting behind them. A full queue refuses new work instead of blocking:
 * the requests arrive on the same MQTT connection whose PUBACKs drain this queue, so waiting for room
 * while holding an incoming message would stall the connection for good. Refused chunks are asked for
 * again by the devices after their quiet period.
 */
export type PublishJob = () => Promise<void>;

export class PublishQueue {
  readonly #waiting: PublishJob[] = [];
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(
    readonly limits: { maxQueued: number; maxInFlight: number },
    /** Jobs handle their own failures; this only sees bugs, which must not stop the queue. */
    private readonly onJobError: (err: unknown) => void = () => {},
  ) {}

  get queued(): number {
    return this.#waiting.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** False when the queue is full: the job was not taken. */
  offer(job: PublishJob): boolean {
    if (this.#waiting.length >= this.limits.maxQueued) return false;
    this.#waiting.push(job);
    this.#pump();
    return true;
  }

  /** Drops every job not yet started; returns how many. */
  clear(): number {
    const dropped = this.#waiting.length;
    this.#waiting.length = 0;
    this.#wakeIfIdle();
    return dropped;
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < this.limits.maxInFlight) {
      const job = this.#waiting.shift();
      if (job === undefined) break;
      this.#inFlight++;
      Promise.resolve()
        .then(job)
        .catch(this.onJobError)
        .finally(() => {
          this.#inFlight--;
          this.#pump();
          this.#wakeIfIdle();
        });
    }
  }

  #wakeIfIdle(): void {
    if (this.#inFlight > 0 || this.#waiting.length > 0) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}
