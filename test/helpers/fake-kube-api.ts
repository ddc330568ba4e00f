// An in-memory Kubernetes API for unit tests of the operator's parts that talk to one (the controller,
// the event recorder, the autoscaler loop): the calls KubeRest offers (request, get, create, delete,
// mergePatch, watch) on a store of objects with names, UIDs, resourceVersions and generations; lists
// and watches filtered by namespace and label selector; and faults to inject. Every request is
// recorded, so a test proves that nothing happened by a count that would have moved, never by waiting.
import type { ObjectMeta } from "../../api/v1/kube-types";
import { ApiError, KubeRest, RequestOptions, WatchEvent } from "../../operator/kube/rest";

/** An object as the fake stores it. */
export interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta & { name: string };
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

/** One request, as the operator sent it. */
export interface Call {
  method: string;
  path: string;
  query: RequestOptions["query"];
  body: unknown;
}

/** Where a path points: a collection or one object (and maybe its subresource). */
interface Target {
  /** `api/v1/pods`, `apis/cluster.ray.io/v1/rayclusters`: the resource, whatever the namespace. */
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function parse(path: string): Target {
  const parts = path.split("?")[0].split("/").filter(Boolean);
  const prefix = parts[0] === "api" ? parts.slice(0, 2) : parts.slice(0, 3);
  const rest = parts.slice(prefix.length);
  if (rest[0] === "namespaces" && rest.length >= 3)
    return { resource: [...prefix, rest[2]].join("/"), namespace: rest[1], name: rest[3], subresource: rest[4] };
  return { resource: [...prefix, rest[0]].join("/"), name: rest[1], subresource: rest[2] };
}

/** `a`, `a=b`, `a!=b`, comma-separated: the selectors the operator uses. */
function matchesLabels(obj: StoredObject, selector: unknown): boolean {
  if (typeof selector !== "string" || !selector) return true;
  const labels = obj.metadata.labels ?? {};
  return selector.split(",").every((term) => {
    const [key, value] = term.split(/!?=/);
    if (value === undefined) return key in labels;
    return term.includes("!=") ? labels[key] !== value : labels[key] === value;
  });
}

function matchesFields(obj: StoredObject, selector: unknown): boolean {
  if (typeof selector !== "string" || !selector) return true;
  return selector.split(",").every((term) => {
    const [field, value] = term.split("=");
    if (field === "metadata.name") return obj.metadata.name === value;
    if (field === "metadata.namespace") return obj.metadata.namespace === value;
    throw new Error(`the fake API does not know the field selector ${field}`);
  });
}

/** RFC 7386: objects merge key by key, null deletes, anything else replaces. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

const clone = <T>(value: T): T => structuredClone(value);

type ChangeEvent = { type: "ADDED" | "MODIFIED" | "DELETED"; object: StoredObject };

interface Watcher {
  resource: string;
  namespace?: string;
  labelSelector: unknown;
  onEvent: (e: WatchEvent<StoredObject>) => void;
}

/** A fault: requests that `match` fail with `error`, `before` or `after` the write takes effect. */
interface Fault {
  match: (call: Call) => boolean;
  error: () => Error;
  times: number;
  when: "before" | "after";
}

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";

export class FakeKubeApi {
  /** Every request, in order. */
  readonly calls: Call[] = [];
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  private readonly watchers = new Set<Watcher>();
  /** Every change, for watches that start from an older resourceVersion (as the informer's do). */
  private readonly history: Array<{ resource: string; event: ChangeEvent }> = [];
  private readonly faults: Fault[] = [];
  /** Watch events not yet delivered (see holdEvents). */
  private readonly held: Array<() => void> = [];
  private readonly watchWaiters: Array<{ count: number; resolve: () => void }> = [];
  private holding = false;
  private resourceVersion = 0;
  private uids = 0;
  private generated = 0;

  /** The calls made so far that match: `calls("POST", "pods")`, with a dry-run filter if asked. */
  count(method: string, resource: string, filter: (call: Call) => boolean = () => true): number {
    return this.calls.filter((c) => c.method === method && parse(c.path).resource.endsWith(`/${resource}`) && filter(c))
      .length;
  }

  /** The objects of a resource (`api/v1/pods`), in a namespace, as stored now. */
  list(resource: string, namespace?: string, labelSelector?: string): StoredObject[] {
    return [...(this.objects.get(resource)?.values() ?? [])]
      .filter((o) => !namespace || o.metadata.namespace === namespace)
      .filter((o) => matchesLabels(o, labelSelector))
      .map(clone);
  }

  /** Resolves once `count` watches are open: from then on, every change reaches the caches at once. */
  watching(count: number): Promise<void> {
    if (this.watchers.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.watchWaiters.push({ count, resolve }));
  }

  /**
   * From now on, watch events wait until `releaseEvents()`: the operator's caches lag behind the
   * API server, as they do when the watch is slow.
   */
  holdEvents(): void {
    this.holding = true;
  }

  releaseEvents(): void {
    this.holding = false;
    for (const deliver of this.held.splice(0)) deliver();
  }

  /** The next `times` requests that match fail with `error` (`after`: once the write took effect). */
  fail(match: (call: Call) => boolean, error: () => Error, opts: { times?: number; when?: "before" | "after" } = {}) {
    this.faults.push({ match, error, times: opts.times ?? 1, when: opts.when ?? "before" });
  }

  /** Writes an object directly (as another client, the kubelet or the scheduler would). */
  put(path: string, obj: { metadata: ObjectMeta }): StoredObject {
    // A name or generateName is checked in write(), as the API server checks it.
    return this.write("POST", parse(path), clone(obj) as StoredObject);
  }

  /** Changes a stored object directly (as the kubelet changes a pod's status). */
  modify(path: string, change: (obj: StoredObject) => void): StoredObject {
    const target = parse(path);
    const current = this.stored(target);
    if (!current) throw new ApiError(404, "NotFound", `${path} not found`);
    const next = clone(current);
    change(next);
    return this.save(target, next, "MODIFIED");
  }

  /** Deletes a stored object directly (as a user would). */
  remove(path: string): void {
    const target = parse(path);
    const current = this.stored(target);
    if (!current) throw new ApiError(404, "NotFound", `${path} not found`);
    this.drop(target, current);
  }

  // What KubeRest offers, with its signatures.
  request = async <T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> => {
    const body = typeof o.body === "string" ? JSON.parse(o.body) : o.body;
    const call: Call = { method, path, query: o.query, body: body === undefined ? undefined : clone(body) };
    this.calls.push(call);
    const fault = this.faults.find((f) => f.times > 0 && f.match(call));
    if (fault) fault.times--;
    if (fault?.when === "before") throw fault.error();
    const result = this.serve(call);
    if (fault?.when === "after") throw fault.error();
    return clone(result) as T;
  };
  get = <T = unknown>(path: string, query?: RequestOptions["query"]) => this.request<T>("GET", path, { query });
  create = <T = unknown>(path: string, body: unknown, flow?: string) => this.request<T>("POST", path, { body, flow });
  delete = <T = unknown>(path: string, body?: unknown, flow?: string) =>
    this.request<T>("DELETE", path, { body, flow });
  mergePatch = <T = unknown>(path: string, body: unknown, flow?: string) =>
    this.request<T>("PATCH", path, { body, contentType: "application/merge-patch+json", flow });

  watch = async <T>(
    path: string,
    query: RequestOptions["query"],
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> => {
    this.calls.push({ method: "WATCH", path, query, body: undefined });
    const target = parse(path);
    const watcher: Watcher = {
      resource: target.resource,
      namespace: target.namespace,
      labelSelector: query?.labelSelector,
      // The fake stores objects of every kind; a watch on a path sees only that path's kind.
      onEvent: (e) => onEvent(e as unknown as WatchEvent<T>),
    };
    // A watch starts where the list it follows ended: what changed since is sent first.
    const since = Number(query?.resourceVersion ?? this.resourceVersion);
    for (const { resource, event } of this.history)
      if (Number(event.object.metadata.resourceVersion) > since) this.deliver(watcher, resource, event);
    this.watchers.add(watcher);
    for (const w of this.watchWaiters.filter((w) => this.watchers.size >= w.count)) {
      this.watchWaiters.splice(this.watchWaiters.indexOf(w), 1);
      w.resolve();
    }
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    this.watchers.delete(watcher);
  };

  private serve(call: Call): unknown {
    const target = parse(call.path);
    const dryRun = !!call.query?.dryRun;
    switch (call.method) {
      case "GET": {
        if (target.name) {
          const found = this.stored(target);
          if (!found) throw new ApiError(404, "NotFound", `${call.path} not found`);
          return found;
        }
        const items = this.list(target.resource, target.namespace, String(call.query?.labelSelector ?? "")).filter(
          (o) => matchesFields(o, call.query?.fieldSelector),
        );
        return { items, metadata: { resourceVersion: String(this.resourceVersion) } };
      }
      case "POST": {
        const obj = clone(call.body) as StoredObject;
        if (dryRun) return obj;
        return this.write("POST", target, obj);
      }
      case "PATCH": {
        const current = this.stored(target);
        if (!current) throw new ApiError(404, "NotFound", `${call.path} not found`);
        const patch = call.body as Record<string, unknown>;
        // The status subresource changes status only; the object itself everything but status.
        const next = (
          target.subresource === "status"
            ? { ...current, status: applyMergePatch(current.status, patch.status) }
            : { ...(applyMergePatch(current, { ...patch, status: undefined }) as StoredObject), status: current.status }
        ) as StoredObject;
        if (JSON.stringify(next.spec) !== JSON.stringify(current.spec))
          next.metadata.generation = (current.metadata.generation ?? 1) + 1;
        return this.save(target, next, "MODIFIED");
      }
      case "DELETE": {
        const current = this.stored(target);
        if (!current) throw new ApiError(404, "NotFound", `${call.path} not found`);
        const uid = (call.body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
        if (uid && uid !== current.metadata.uid)
          throw new ApiError(409, "Conflict", `Precondition failed: UID in precondition: ${uid}`);
        this.drop(target, current);
        return { kind: "Status", status: "Success" };
      }
      default:
        throw new Error(`the fake API does not serve ${call.method}`);
    }
  }

  private keyOf(namespace: string | undefined, name: string) {
    return `${namespace ?? ""}/${name}`;
  }

  private stored(target: Target): StoredObject | undefined {
    return this.objects.get(target.resource)?.get(this.keyOf(target.namespace, target.name ?? ""));
  }

  /** A create: the API server names (generateName), stamps and stores the object. */
  private write(method: string, target: Target, obj: StoredObject): StoredObject {
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) {
      let suffix = "";
      for (let n = ++this.generated, i = 0; i < 5; i++, n = Math.floor(n / suffixAlphabet.length))
        suffix += suffixAlphabet[n % suffixAlphabet.length];
      meta.name = `${meta.generateName}${suffix}`;
    }
    if (!meta.name) throw new ApiError(422, "Invalid", `${method}: metadata.name: Required value`);
    if (target.namespace) meta.namespace = target.namespace;
    if (this.stored({ ...target, name: meta.name }))
      throw new ApiError(409, "AlreadyExists", `"${meta.name}" already exists`);
    meta.uid = `uid-${++this.uids}`;
    meta.generation = 1;
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    return this.save({ ...target, name: meta.name }, obj, "ADDED");
  }

  private save(target: Target, obj: StoredObject, type: "ADDED" | "MODIFIED"): StoredObject {
    obj.metadata.resourceVersion = String(++this.resourceVersion);
    let objects = this.objects.get(target.resource);
    if (!objects) this.objects.set(target.resource, (objects = new Map()));
    objects.set(this.keyOf(obj.metadata.namespace, obj.metadata.name), obj);
    this.emit(target.resource, { type, object: clone(obj) });
    return clone(obj);
  }

  private drop(target: Target, obj: StoredObject) {
    this.objects.get(target.resource)?.delete(this.keyOf(obj.metadata.namespace, obj.metadata.name));
    const gone = clone(obj);
    gone.metadata.resourceVersion = String(++this.resourceVersion);
    this.emit(target.resource, { type: "DELETED", object: gone });
  }

  private emit(resource: string, event: ChangeEvent) {
    this.history.push({ resource, event });
    for (const w of this.watchers) this.deliver(w, resource, event);
  }

  private deliver(w: Watcher, resource: string, event: ChangeEvent) {
    if (w.resource !== resource) return;
    if (w.namespace && w.namespace !== event.object.metadata.namespace) return;
    if (!matchesLabels(event.object, w.labelSelector)) return;
    const deliver = () => w.onEvent({ type: event.type, object: clone(event.object) });
    if (this.holding) this.held.push(deliver);
    else deliver();
  }
}

/**
 * The fake where the operator's code takes a KubeRest. KubeRest is a class with private members, so
 * nothing else is assignable to it: the cast is the seam until the operator takes an interface of
 * the calls it makes (see the report of issue 14: `KubeApi = Pick<KubeRest, ...>`).
 */
export function asKubeRest(api: FakeKubeApi): KubeRest {
  const calls: Pick<KubeRest, "request" | "get" | "create" | "delete" | "mergePatch" | "watch"> = api;
  return calls as unknown as KubeRest;
}
