// A work queue in the manner of client-go's: a key waiting is queued once however often it is added
// (de-duplication); a key is never processed by two workers at once (if it is added while being
// processed, it runs again afterwards); a failing key is retried with per-key exponential backoff.
export type ReconcileResult = { requeueAfterMs?: number } | void;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  /** Keys being processed, with when each was handed out. */
  private readonly processing = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(
    private readonly baseDelayMs = 200,
    private readonly maxDelayMs = 300_000,
  ) {}

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // picked up again by done()
    const w = this.waiters.shift();
    if (w) w(key);
    else this.queue.push(key);
  }

  /** Adds the key after `ms`; an earlier pending delay wins. */
  addAfter(key: string, ms: number): void {
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Retries a failed key after its per-key backoff: base × 2^failures, capped. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its backoff starts over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key, or undefined once shut down. */
  get(): Promise<string | undefined> {
    const next = (): string | undefined => {
      const key = this.queue.shift();
      if (key !== undefined) {
        this.dirty.delete(key);
        this.processing.set(key, Date.now());
      }
      return key;
    };
    if (this.queue.length) return Promise.resolve(next());
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) =>
      this.waiters.push((key) => {
        if (key === undefined) return resolve(undefined);
        this.dirty.delete(key);
        this.processing.set(key, Date.now());
        resolve(key);
      }),
    );
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** Keys waiting (not counting those being processed or delayed). */
  depth(): number {
    return this.queue.length;
  }

  inFlight(): number {
    return this.processing.size;
  }

  /** How long the longest-running key has been processed (0 when none is). */
  longestRunningMs(now = Date.now()): number {
    let oldest = now;
    for (const since of this.processing.values()) oldest = Math.min(oldest, since);
    return now - oldest;
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Runs `workers` loops calling `handler` for each key until shut down; resolves when all stopped. */
  async run(
    workers: number,
    handler: (key: string) => Promise<ReconcileResult>,
    onError: (key: string, e: unknown, retryInMs: number) => void,
  ): Promise<void> {
    const loop = async () => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        try {
          const result = await handler(key);
          this.forget(key);
          if (result && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
        } catch (e) {
          onError(key, e, this.addRateLimited(key));
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, loop));
  }
}
