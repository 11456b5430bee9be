// The anonymous install id telemetry is counted by, and the window sequence numbers that go with it.
//
// Privacy: the id is 128 random bits made in this browser profile, not derived from anything about
// the user, the device or the browser (no fingerprinting). It lives in the page origin's
// localStorage, so clearing site data forgets it, another origin never sees it, and a private window
// gets its own. Opting out of telemetry (`telemetry: false`) means it is never created.
//
// The cloud deduplicates windows by (device, seq), so a sequence number must never repeat for an id:
// the next number is stored before the current one is handed out. Tabs of one origin share the id;
// each take re-reads storage, so they interleave numbers rather than repeat them.

/** The part of the Web Storage API used here (tests pass a Map-backed one). */
export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem'>;

export const INSTALL_STORAGE_KEY = 'edgeloop.install.v1';
const ID_PATTERN = /^[a-z0-9]{32}$/;

interface Stored {
  id: string;
  next: number;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function parse(text: string | null): Stored | undefined {
  if (text === null) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Stored>;
    if (typeof value.id === 'string' && ID_PATTERN.test(value.id)) {
      const next = typeof value.next === 'number' && Number.isSafeInteger(value.next) && value.next >= 0;
      // A damaged counter jumps to the clock in ms: above any number reachable one window at a time.
      return { id: value.id, next: next ? (value.next as number) : Date.now() };
    }
  } catch {
    // Unreadable: start over with a new id below.
  }
  return undefined;
}

/** localStorage when the page may use it; undefined in workers, sandboxed frames or with it blocked. */
export function pageStorage(): KeyValueStorage | undefined {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    return undefined; // accessing it throws when storage is blocked for the origin
  }
}

/**
 * This browser profile's telemetry identity. Without usable storage the id lasts for the page's
 * lifetime only (each page load then counts as an install).
 *
 * @example
 * const install = new InstallIdentity(pageStorage());
 * install.deviceId; // 'web-3f9a…'
 * install.takeSeq(); // 0, then 1, …
 */
export class InstallIdentity {
  readonly id: string;
  #memoryNext = 0;

  constructor(private readonly storage: KeyValueStorage | undefined) {
    const stored = this.#read();
    this.id = stored?.id ?? randomId();
    this.#memoryNext = stored?.next ?? 0;
    if (!stored) this.#write({ id: this.id, next: this.#memoryNext });
  }

  /** The device id the cloud registers this install under (class `browser`). */
  get deviceId(): string {
    return `web-${this.id}`;
  }

  /** The next window sequence number; persisted before it is returned. */
  takeSeq(): number {
    const stored = this.#read();
    const seq = Math.max(this.#memoryNext, stored?.id === this.id ? stored.next : 0);
    this.#memoryNext = seq + 1;
    this.#write({ id: this.id, next: seq + 1 });
    return seq;
  }

  #read(): Stored | undefined {
    try {
      return parse(this.storage?.getItem(INSTALL_STORAGE_KEY) ?? null);
    } catch {
      return undefined;
    }
  }

  #write(value: Stored): void {
    try {
      this.storage?.setItem(INSTALL_STORAGE_KEY, JSON.stringify(value));
    } catch {
      // Quota or blocked storage: the in-memory counter keeps this page's numbers unique.
    }
  }
}
