// Expectations, as Kubernetes' ReplicaSet controller keeps them: creates and deletes issued for a
// cluster but not yet seen in the informer cache. While any are outstanding, reconcile does not
// create or delete pods for that cluster, so a cache that lags behind the API server can never
// cause a duplicate pod or a double delete. They expire, so a lost watch event cannot block forever.
export class Expectations {
  private readonly byKey = new Map<
    string,
    { adds: number; deletes: Set<string>; since: number; uncertainUntil?: number }
  >();

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly uncertainMs = 60_000,
  ) {}

  private entry(key: string) {
    let e = this.byKey.get(key);
    if (!e) this.byKey.set(key, (e = { adds: 0, deletes: new Set(), since: Date.now() }));
    return e;
  }

  expectCreations(key: string, n: number): void {
    const e = this.entry(key);
    e.adds += n;
    e.since = Date.now();
  }

  expectDeletion(key: string, podKey: string): void {
    const e = this.entry(key);
    e.deletes.add(podKey);
    e.since = Date.now();
  }

  /** A create was seen in the cache, or failed and will not be seen. */
  creationObserved(key: string): void {
    const e = this.byKey.get(key);
    if (e && e.adds > 0) e.adds--;
  }

  /**
   * A create whose outcome is unknown (no answer, a timeout, a 5xx: the pod may be stored). It stays
   * expected, so no pass creates another in its place before the cache shows it; if the pod does not
   * appear within `uncertainMs` (a minute: a watch that was down has re-listed by then), it was not
   * created, and the key's expectations end.
   */
  creationUncertain(key: string): void {
    const e = this.byKey.get(key);
    if (e) e.uncertainUntil = Math.min(e.uncertainUntil ?? Infinity, Date.now() + this.uncertainMs);
  }

  deletionObserved(key: string, podKey: string): void {
    this.byKey.get(key)?.deletes.delete(podKey);
  }

  satisfied(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return true;
    const now = Date.now();
    const done = e.adds <= 0 && e.deletes.size === 0;
    if (done || now - e.since > this.ttlMs || (e.uncertainUntil !== undefined && now > e.uncertainUntil)) {
      this.byKey.delete(key);
      return true;
    }
    return false;
  }

  pending(key: string): { adds: number; deletes: number } {
    const e = this.byKey.get(key);
    return { adds: e?.adds ?? 0, deletes: e?.deletes.size ?? 0 };
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
