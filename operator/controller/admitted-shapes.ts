// What the operator's dry runs learnt, by pod shape (builders/pod.ts podShape) and namespace: which
// shapes the API server admitted a moment ago, and which dry runs are under way. 100 RayClusters of one
// template applied at once then cost the API server one dry run per shape rather than 200 (each a
// pod's whole validation and admission, as dear as a create). What could change the answer meanwhile
// (a namespace's Pod Security label, a new policy) is still met by the real creates, which are refused
// with the same field named; a refused create forgets the namespace's shapes at once.

/** How long an admitted shape stands for the next cluster of that shape in the namespace. */
export const ADMITTED_SHAPE_TTL_MS = 60_000;
const ADMITTED_SHAPES_MAX = 1024;

export class AdmittedShapes {
  /** `namespace/shape` → when a dry run admitted it, oldest first. */
  private readonly admittedAt = new Map<string, number>();
  /** Dry runs under way, by `namespace/shape`. */
  private readonly inFlight = new Map<string, Promise<void>>();

  /** The key of a shape in a namespace. */
  static key(namespace: string, shape: string): string {
    return `${namespace}/${shape}`;
  }

  /** Whether a dry run admitted `key` within ADMITTED_SHAPE_TTL_MS of `now`. */
  fresh(key: string, now: number): boolean {
    return now - (this.admittedAt.get(key) ?? -Infinity) <= ADMITTED_SHAPE_TTL_MS;
  }

  /**
   * One dry run per shape at a time: the passes of clusters applied together ask side by side, and
   * those of one shape share the answer of the first (each names its own field from it).
   */
  ask(key: string, dryRun: () => Promise<unknown>): Promise<void> {
    let answer = this.inFlight.get(key);
    if (!answer) {
      answer = dryRun()
        .then(() => undefined)
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, answer);
    }
    return answer;
  }

  remember(key: string, at: number): void {
    this.admittedAt.delete(key); // to the end: the map stays oldest first
    this.admittedAt.set(key, at);
    if (this.admittedAt.size > ADMITTED_SHAPES_MAX) this.admittedAt.delete(this.admittedAt.keys().next().value!);
  }

  /** A create in `namespace` was refused: its dry-run answers no longer stand for anything. */
  forget(namespace: string): void {
    for (const key of this.admittedAt.keys()) if (key.startsWith(`${namespace}/`)) this.admittedAt.delete(key);
  }
}
