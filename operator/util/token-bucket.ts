// A client-side rate limit: `qps` tokens a second, bursts up to `burst`. Waiters are grouped by a
// flow key (the RayCluster a request is for) and served round-robin across flows, FIFO within one:
// a cluster creating 500 pods cannot make a small cluster's few requests wait behind all of its own
// (fair queuing, as the API server's Priority and Fairness does on its side).
export class TokenBucket {
  private tokens: number;
  private last = Date.now();
  private readonly flows = new Map<string, Array<() => void>>();
  private waiting = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  private refill() {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
  }

  take(flow = ""): Promise<void> {
    this.refill();
    if (this.waiting === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let q = this.flows.get(flow);
      if (!q) this.flows.set(flow, (q = []));
      q.push(resolve);
      this.waiting++;
      this.schedule();
    });
  }

  /** Wakes one waiter of the next flow in turn. Map order is insertion order; a served flow moves to the back. */
  private serveOne(): boolean {
    for (const [flow, q] of this.flows) {
      const next = q.shift()!;
      this.flows.delete(flow);
      if (q.length) this.flows.set(flow, q);
      this.waiting--;
      next();
      return true;
    }
    return false;
  }

  private schedule() {
    if (this.timer) return;
    const wait = Math.max(1, ((1 - this.tokens) / this.qps) * 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.waiting > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.serveOne();
      }
      if (this.waiting > 0) this.schedule();
    }, wait);
  }
}
