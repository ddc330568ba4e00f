/** Capped exponential backoff with jitter. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  next(): number {
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt++);
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }

  reset(): void {
    this.attempt = 0;
  }
}
