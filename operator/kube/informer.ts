// An informer: list, then watch from the list's resourceVersion, into a local cache; handlers get
// add/update/delete and only enqueue keys. It never gives up: a watch that ends is resumed, a
// 410 Gone relists (emitting the differences), any other error restarts list+watch with capped
// exponential backoff. It is its own supervisor; `healthy()` says whether it is currently watching.
import type { List, ObjectMeta } from "../../api/v1/kube-types";
import { ApiError, KubeRest, WatchEvent } from "./rest";
import { Backoff } from "../util/backoff";
import type { Logger } from "../util/log";

/** An object as the API server returns it (get, list, watch, create): its metadata has a name. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta & { name: string };
}

/** A Kubernetes object as the cache holds it: `Stored<Pod>`. */
export type Stored<T> = T & KubeObject;

export type Handler<T> = {
  add?: (obj: T) => void;
  update?: (oldObj: T, newObj: T) => void;
  delete?: (obj: T) => void;
};

export interface InformerOptions<T> {
  name: string;
  /** Collection path, e.g. `/api/v1/namespaces/ray/pods` or `/api/v1/pods`. */
  path: string;
  labelSelector?: string;
  /** Secondary index: the keys an object is filed under (e.g. its cluster). */
  indexBy?: (obj: T) => string | undefined;
  /**
   * The copy of an object the cache keeps, made before it is stored or handed to a handler: the
   * fields its readers use and no others (the pod cache keeps a tenth of each pod this way).
   */
  keep?: (obj: T) => T;
  /** Page size of the initial list. */
  pageSize?: number;
  /** The server ends each watch after about this long (4–5 min by default). */
  watchTimeoutSeconds?: number;
  log: Logger;
}

export const keyOf = (o: { metadata: { namespace?: string; name: string } }) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

/**
 * For caches without a `keep` of their own: drops what the operator never reads, to keep the cache
 * small (managedFields dominate object size).
 */
function strip<T extends KubeObject>(o: T): T {
  if (o.metadata.managedFields) delete o.metadata.managedFields;
  if (o.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"])
    delete o.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"];
  return o;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly index = new Map<string, Set<string>>();
  private readonly handlers: Handler<T>[] = [];
  private resourceVersion = "";
  private synced = false;
  private watching = false;
  private looping = false;
  private stopped = false;
  private abort?: AbortController;
  private syncWaiters: Array<() => void> = [];
  private readonly backoff = new Backoff(500, 30000);
  /** Times the list+watch was restarted after an error (for metrics). */
  restarts = 0;
  lastError?: string;

  constructor(
    private readonly rest: KubeRest,
    private readonly opts: InformerOptions<T>,
  ) {}

  /** The informer's name, for logs and metrics. */
  get name(): string {
    return this.opts.name;
  }

  on(h: Handler<T>): void {
    this.handlers.push(h);
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  byIndex(value: string): T[] {
    return [...(this.index.get(value) ?? [])].map((k) => this.cache.get(k)!).filter(Boolean);
  }

  /** How many cached objects carry this index value. */
  countByIndex(value: string): number {
    return this.index.get(value)?.size ?? 0;
  }

  size(): number {
    return this.cache.size;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Watching now (or not started, or stopped): what readiness follows. An API-server outage makes it false. */
  healthy(): boolean {
    return this.stopped || this.watching || !this.synced;
  }

  /** Its loop runs (or was stopped): what liveness follows. An outage does not make it false; a dead loop does. */
  alive(): boolean {
    return this.stopped || this.looping;
  }

  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((r) => this.syncWaiters.push(r));
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  /**
   * Puts an object we just wrote into the cache, so the next reconcile does not act on the version
   * before our own write; the watch event that follows carries the same object.
   */
  remember(obj: T): void {
    const cached = this.cache.get(keyOf(obj));
    if (cached && cached.metadata.uid === obj.metadata.uid) this.upsert(obj);
  }

  private indexAdd(key: string, obj: T) {
    const v = this.opts.indexBy?.(obj);
    if (v === undefined) return;
    let s = this.index.get(v);
    if (!s) this.index.set(v, (s = new Set()));
    s.add(key);
  }

  private indexRemove(key: string, obj: T) {
    const v = this.opts.indexBy?.(obj);
    if (v === undefined) return;
    const s = this.index.get(v);
    s?.delete(key);
    if (s && s.size === 0) this.index.delete(v);
  }

  private upsert(received: T) {
    const obj = this.opts.keep ? this.opts.keep(received) : strip(received);
    const key = keyOf(obj);
    const old = this.cache.get(key);
    if (old) this.indexRemove(key, old);
    this.cache.set(key, obj);
    this.indexAdd(key, obj);
    for (const h of this.handlers) {
      if (old) h.update?.(old, obj);
      else h.add?.(obj);
    }
  }

  private remove(obj: T) {
    const key = keyOf(obj);
    const old = this.cache.get(key);
    if (!old) return;
    this.indexRemove(key, old);
    this.cache.delete(key);
    for (const h of this.handlers) h.delete?.(old);
  }

  /** Lists everything (in pages) and replaces the cache, emitting only the differences. */
  private async relist(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.rest.get<List<T>>(this.opts.path, {
        labelSelector: this.opts.labelSelector,
        limit: this.opts.pageSize ?? 500,
        continue: cont,
      });
      items.push(...page.items);
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      const old = this.cache.get(key);
      if (!old || old.metadata.resourceVersion !== item.metadata.resourceVersion) this.upsert(item);
    }
    for (const [key, obj] of [...this.cache]) if (!seen.has(key)) this.remove(obj);
    this.resourceVersion = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private async run(): Promise<void> {
    this.looping = true;
    try {
      await this.loop();
    } finally {
      this.looping = false;
    }
  }

  private async loop(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        this.abort = new AbortController();
        this.watching = true;
        let gone = false;
        // Spread, so the watches of many operators do not end together (client-go does the same).
        const timeoutSeconds = Math.round((this.opts.watchTimeoutSeconds ?? 240) * (1 + Math.random() / 4));
        await this.rest.watch<T>(
          this.opts.path,
          {
            labelSelector: this.opts.labelSelector,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
          },
          (e: WatchEvent<T>) => {
            if (e.type === "ERROR") {
              if (e.object?.code === 410) gone = true;
              else throw new ApiError(e.object?.code ?? 0, e.object?.reason ?? "", e.object?.message ?? "watch error");
              return;
            }
            if (e.object?.metadata?.resourceVersion) this.resourceVersion = e.object.metadata.resourceVersion;
            if (e.type === "ADDED" || e.type === "MODIFIED") this.upsert(e.object);
            else if (e.type === "DELETED") this.remove(e.object);
          },
          this.abort.signal,
          // A server that said nothing, not even "the watch is over", for 30 s past that: a dead connection.
          (timeoutSeconds + 30) * 1000,
        );
        this.watching = false;
        this.backoff.reset();
        this.lastError = undefined;
        if (gone) {
          this.opts.log.debug(`informer ${this.opts.name}: resourceVersion too old, relisting`);
          needList = true;
        }
      } catch (e) {
        this.watching = false;
        if (this.stopped) break;
        this.restarts++;
        this.lastError = (e as Error).message;
        needList = true; // after a failure, trust nothing: list again
        const wait = this.backoff.next();
        this.opts.log.warn(
          `informer ${this.opts.name}: ${(e as Error).message}; restarting in ${(wait / 1000).toFixed(1)}s`,
        );
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    this.watching = false;
  }
}
