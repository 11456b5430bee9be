// Guard for a shared machine: reads MemAvailable from /proc/meminfo every second, keeps the lowest
// value seen, and calls `onLow` once when it falls under the floor, so the bench can end its own
// fleet processes before the machine (and the other engineers on it) runs out of memory.
import { readFileSync } from 'node:fs';

const GB = 1024 ** 3;

/** MemAvailable in bytes (what the kernel could hand out without swapping). */
export function memAvailable(): number {
  const line = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return line ? Number(line[1]) * 1024 : 0;
}

export class MemoryGuard {
  #lowest = memAvailable();
  #tripped: string | null = null;
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly floorBytes: number,
    onLow: (reason: string) => void,
  ) {
    this.#timer = setInterval(() => {
      const available = memAvailable();
      this.#lowest = Math.min(this.#lowest, available);
      if (available < floorBytes && this.#tripped === null) {
        this.#tripped = `MemAvailable ${(available / GB).toFixed(2)} GB < floor ${(floorBytes / GB).toFixed(1)} GB`;
        onLow(this.#tripped);
      }
    }, 1000);
    this.#timer.unref();
  }

  /** Why the guard fired, or null. */
  get tripped(): string | null {
    return this.#tripped;
  }

  get lowestGb(): number {
    return Math.round((this.#lowest / GB) * 100) / 100;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
