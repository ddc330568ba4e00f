// The RayCluster controller: informers on RayClusters and on the pods and Services they own
// (label-filtered), handlers that only enqueue `namespace/name`, a de-duplicating work queue with
// per-key backoff and several workers, and a level-triggered reconcile that compares the RayCluster
// with what the cache holds, acts, and writes status only when it changed.
import { API_VERSION, GROUP, KIND, LABELS, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { Defaulted, defaulted } from "../../api/v1/defaults";
import { checkWorkable } from "../../api/v1/workable";
import { headServiceName, newHeadPodName } from "../../builders/names";
import { buildPod } from "../../builders/pod";
import { Informer, KubeObject, Stored, keyOf } from "../kube/informer";
import { ApiError, KubeRest, isNotFound, isAlreadyExists } from "../kube/rest";
import { EventRecorder } from "../kube/events";
import { OperatorMetrics } from "../server/metrics";
import type { Logger } from "../util/log";
import { Expectations } from "./expectations";
import { mergePatch } from "./merge-patch";
import { Plan, PodCreation, PodDeletion, ScaleIntent, planCluster } from "./plan";
import { Pod, Service, awaitingScheduler, controllerKey, isTerminating, nodeKind, ownedBy, podKey } from "./pods";
import { computeStatus, sameStatus, significantChange, StatusInputs } from "./status";
import { WorkQueue, ReconcileResult } from "./workqueue";
import { RayClusterStatus } from "../../api/v1/types";

export interface ControllerOptions {
  rest: KubeRest;
  log: Logger;
  metrics: OperatorMetrics;
  events: EventRecorder;
  /** Watch only this namespace (the seed's namespaced mode); all namespaces when undefined. */
  namespace?: string;
  workers: number;
  resyncSeconds?: number;
  /** Per cluster, workers waiting for the scheduler's first look before more are created (0: no limit). */
  maxUnscheduledWorkers?: number;
}

/** What the autoscaler tells the controller about one cluster. */
export interface AutoscalerReport {
  intent: ScaleIntent;
  status?: RayClusterStatus["autoscaler"];
  unreachable?: string;
}

const POD_UPDATE_COALESCE_MS = 100;
const POD_UPDATE_COALESCE_MS_PER_POD = 0.5;
const STATUS_PROGRESS_INTERVAL_MS = 1000;
/**
 * Pod creates one cluster keeps in flight at once. A cluster's pods are not running any sooner for
 * being created faster than the scheduler and the kubelets take them (measured with `npm run bench`:
 * a 0 -> 500 scale-up is Ready as soon with 1, 4 or 16 in flight); more only moves the API server
 * ahead of them and lengthens every other cluster's wait. Four at ~20 ms a round trip is still
 * ~200 pods/s, above what a default kube-scheduler binds.
 */
const MAX_BATCH = 4;

/** A RayCluster from the cache, defaulted once at the start of the pass that reads it. */
type Cluster = Defaulted<Stored<RayCluster>>;

const clusterPath = (ns?: string) => (ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`);
const podsPath = (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/pods` : "/api/v1/pods");
const servicesPath = (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/services` : "/api/v1/services");

/**
 * Calls `fn` `count` times in batches of `initial`, then twice as many each round, up to `max`
 * (ReplicaSet's slow start, from 1, after a failure): a create that keeps failing fails once, not
 * `count` times. Stops at the first failed batch.
 */
async function slowStartBatch(count: number, initial: number, max: number, fn: () => Promise<void>): Promise<{ done: number; error?: unknown }> {
  let done = 0;
  for (let batch = Math.max(1, initial); done < count; batch = Math.min(batch * 2, max)) {
    const n = Math.min(batch, count - done);
    const results = await Promise.allSettled(Array.from({ length: n }, fn));
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    done += results.filter((r) => r.status === "fulfilled").length;
    if (failed) return { done, error: failed.reason };
  }
  return { done };
}

export class RayClusterController {
  readonly clusters: Informer<Stored<RayCluster>>;
  readonly pods: Informer<Pod>;
  readonly services: Informer<Service>;
  readonly queue = new WorkQueue();
  readonly expectations = new Expectations();
  private readonly reports = new Map<string, AutoscalerReport>();
  /** Clusters whose last pod create failed: their next creates start with a batch of one. */
  private readonly createFailed = new Set<string>();
  /** The last refusal (403, 422) of a cluster's creates, until a pass creates what it planned. */
  private readonly createErrors = new Map<string, string>();
  private readonly statusWrittenAt = new Map<string, number>();
  /** Workers held back by the scheduler window, by cluster: each pod the scheduler takes makes room. */
  private readonly deferring = new Map<string, number>();
  private resyncTimer?: NodeJS.Timeout;
  private gaugeTimer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly o: ControllerOptions) {
    const byCluster = (obj: KubeObject) => controllerKey(obj);
    this.clusters = new Informer<Stored<RayCluster>>(o.rest, { name: "rayclusters", path: clusterPath(o.namespace), log: o.log });
    // Only pods and Services carrying the cluster label: the operator never caches the rest.
    this.pods = new Informer<Pod>(o.rest, { name: "pods", path: podsPath(o.namespace), labelSelector: LABELS.clusterName, indexBy: byCluster, log: o.log });
    this.services = new Informer<Service>(o.rest, { name: "services", path: servicesPath(o.namespace), labelSelector: LABELS.clusterName, indexBy: byCluster, log: o.log });

    this.clusters.on({
      add: (rc) => this.queue.add(keyOf(rc)),
      // Our own status writes come back as updates; only spec, labels or deletion matter.
      update: (a, b) => {
        if (a.metadata.generation !== b.metadata.generation || JSON.stringify(a.metadata.labels) !== JSON.stringify(b.metadata.labels) || a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp || a.metadata.uid !== b.metadata.uid)
          this.queue.add(keyOf(b));
      },
      delete: (rc) => {
        this.expectations.forget(keyOf(rc));
        this.statusWrittenAt.delete(keyOf(rc));
        this.createFailed.delete(keyOf(rc));
        this.createErrors.delete(keyOf(rc));
        this.setDeferred(keyOf(rc), 0);
        this.reports.delete(keyOf(rc));
        this.queue.add(keyOf(rc));
      },
    });
    this.pods.on({
      add: (p) => {
        const key = controllerKey(p);
        if (!key) return;
        this.expectations.creationObserved(key);
        if (isTerminating(p)) this.expectations.deletionObserved(key, podKey(p));
        this.queue.add(key);
      },
      update: (a, b) => {
        const key = controllerKey(b);
        if (!key) return;
        if (isTerminating(b) && !isTerminating(a)) {
          this.expectations.deletionObserved(key, podKey(b));
          this.queue.add(key);
        } else if (this.deferring.has(key) && awaitingScheduler(a) && !awaitingScheduler(b)) {
          // Room in the scheduler window: the next workers go now, or the window would pace the
          // scale-up slower than the scheduler.
          this.queue.add(key);
        } else {
          // Pods of one cluster change state in bursts (scheduled, running, ready), and a pass costs
          // in proportion to the cluster's pods: a big cluster's burst is looked at once per window
          // (up to 100 ms), a small cluster's change at once.
          this.queue.addAfter(key, Math.min(POD_UPDATE_COALESCE_MS, this.pods.countByIndex(key) * POD_UPDATE_COALESCE_MS_PER_POD));
        }
      },
      delete: (p) => {
        const key = controllerKey(p);
        if (!key) return;
        this.expectations.deletionObserved(key, podKey(p));
        this.queue.add(key);
      },
    });
    const enqueueOwner = (s: Service) => {
      const key = controllerKey(s);
      if (key) this.queue.add(key);
    };
    this.services.on({ add: enqueueOwner, update: (_, b) => enqueueOwner(b), delete: enqueueOwner });
  }

  /** Starts the informers; resolves when their caches are synced. */
  async startInformers(): Promise<void> {
    for (const inf of [this.clusters, this.pods, this.services]) inf.start();
    await Promise.all([this.clusters.waitForSync(), this.pods.waitForSync(), this.services.waitForSync()]);
  }

  synced(): boolean {
    return this.clusters.hasSynced() && this.pods.hasSynced() && this.services.hasSynced();
  }

  healthy(): { ok: boolean; detail: string } {
    const bad = [this.clusters, this.pods, this.services].filter((i) => !i.healthy());
    return bad.length ? { ok: false, detail: `informers not watching: ${bad.map((i) => i.lastError).join("; ")}` } : { ok: true, detail: "informers watching" };
  }

  /** Runs the workers (after startInformers). */
  start(): void {
    for (const rc of this.clusters.list()) this.queue.add(keyOf(rc));
    const resync = (this.o.resyncSeconds ?? 300) * 1000;
    // Level-triggered safety net: every cluster is looked at again periodically.
    this.resyncTimer = setInterval(() => this.clusters.list().forEach((rc) => this.queue.add(keyOf(rc))), resync);
    this.gaugeTimer = setInterval(() => this.updateGauges(), 10_000);
    this.running = this.queue.run(this.o.workers, (key) => this.timedReconcile(key), (key, e, retry) => {
      this.o.metrics.reconcileErrors.inc();
      this.o.metrics.reconciles.inc({ result: "error" });
      this.o.log.forCluster(key.split("/")[1]).warn(`reconcile failed: ${(e as Error).message}; retrying in ${(retry / 1000).toFixed(1)}s`);
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    clearInterval(this.gaugeTimer);
    this.queue.shutdown();
    for (const inf of [this.clusters, this.pods, this.services]) inf.stop();
    await this.running;
  }

  /** The autoscaler's decision for a cluster; the next reconcile acts on it. */
  report(key: string, report: AutoscalerReport): void {
    this.reports.set(key, report);
    this.queue.add(key);
  }

  /** The pods a RayCluster owns, from the cache. */
  podsOf(rc: RayCluster): Pod[] {
    return this.pods.byIndex(`${rc.metadata.namespace}/${rc.metadata.name}`).filter((p) => ownedBy(p, rc));
  }

  private updateGauges() {
    this.o.metrics.queueDepth.set(this.queue.depth());
    this.o.metrics.clusters.reset();
    for (const rc of this.clusters.list()) this.o.metrics.clusters.inc({ phase: rc.status?.phase ?? "Unknown" });
    this.o.metrics.pods.reset();
    for (const p of this.pods.list()) this.o.metrics.pods.inc({ kind: nodeKind(p) ?? "unknown", phase: isTerminating(p) ? "Terminating" : (p.status?.phase ?? "Unknown") });
    for (const inf of [this.clusters, this.pods, this.services]) this.o.metrics.informerRestarts.set({ informer: inf.name }, inf.restarts);
  }

  private async timedReconcile(key: string): Promise<ReconcileResult> {
    const end = this.o.metrics.reconcileDuration.startTimer();
    try {
      const r = await this.reconcile(key);
      this.o.metrics.reconciles.inc({ result: r && r.requeueAfterMs !== undefined ? "requeue" : "success" });
      return r;
    } finally {
      end();
      this.o.metrics.queueDepth.set(this.queue.depth());
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const cached = this.clusters.get(key);
    if (!cached || cached.metadata.deletionTimestamp) {
      // Children go through garbage collection (owner references); nothing to do, nothing to block.
      this.expectations.forget(key);
      return;
    }
    // The door: defaults are filled here, once; the checks, the plan and the builders read this.
    const rc = defaulted(cached);
    const name = rc.metadata.name!;
    const log = this.o.log.forCluster(name);
    const pods = this.podsOf(rc);
    const service = this.services.byIndex(key).find((s) => ownedBy(s, rc));

    const invalid = checkWorkable(rc);
    if (invalid.length) {
      const changed = await this.writeStatus(rc, { rc, pods, service, invalid });
      if (changed) {
        log.warn(`cannot run this RayCluster: ${invalid.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
        void this.o.events.record(this.target(rc), "Warning", "InvalidSpec", invalid.map((e) => `${e.field}: ${e.message}`).join("; "));
      }
      return;
    }

    const report = this.reports.get(key);
    const plan = planCluster(rc, pods, service, report?.intent, { maxUnscheduledWorkers: this.o.maxUnscheduledWorkers });
    if (!this.setDeferred(key, plan.deferred) && plan.deferred) log.info(`pacing the scale-up: ${plan.deferred} more workers are created as the scheduler takes the ones waiting for it (MAX_UNSCHEDULED_WORKERS=${this.o.maxUnscheduledWorkers})`);
    const inputs: StatusInputs = { rc, pods, service, plan, autoscaler: report?.status, autoscalerUnreachable: report?.unreachable };

    if (!this.expectations.satisfied(key)) {
      // The cache has not caught up with our own creates/deletes: act on nothing, look again soon.
      inputs.createError = this.createErrors.get(key);
      await this.writeStatus(rc, inputs);
      return { requeueAfterMs: 5000 };
    }

    if (plan.restart && rc.status?.head?.podName) {
      log.warn(`head pod ${rc.status.head.podName} ${plan.restart === "HeadOutdated" ? "is outdated" : "was lost"}; restarting the cluster`);
      void this.o.events.record(this.target(rc), "Warning", "ClusterRestart", `head pod ${rc.status.head.podName} ${plan.restart === "HeadOutdated" ? "outdated" : plan.restart === "HeadFailed" ? "failed" : "was lost"}: restarting the cluster`);
    }
    // Everything one pass creates is told in one event: events are API writes too.
    const created: string[] = [];
    if (report?.intent.remove?.length) this.reports.set(key, { ...report, intent: { ...report.intent, remove: [] } });
    // The Service, the deletions and the creations do not depend on one another: one round trip, not three.
    const [svc, del, cre] = await Promise.allSettled([
      this.syncService(rc, plan, log, created),
      this.deletePods(rc, key, plan.deletions, log),
      this.createPods(rc, key, plan, log, created),
    ]);
    if (created.length) void this.o.events.record(this.target(rc), "Normal", "Created", `Created ${created.join("; ")}`);
    for (const r of [svc, del, cre]) if (r.status === "rejected") throw r.reason;
    const createError = (cre as PromiseFulfilledResult<string | undefined>).value;
    // A refusal stays in status (Stalled) until a pass creates what it planned.
    if (createError) this.createErrors.set(key, createError);
    else if (plan.creations.length) this.createErrors.delete(key);
    inputs.createError = createError ?? this.createErrors.get(key);
    await this.writeStatus(rc, inputs);
    return createError ? { requeueAfterMs: 30_000 } : undefined;
  }

  /** Records how many of a cluster's workers the window holds back; returns how many it held before. */
  private setDeferred(key: string, n: number): number {
    const before = this.deferring.get(key) ?? 0;
    if (before === n) return before;
    if (n) this.deferring.set(key, n);
    else this.deferring.delete(key);
    let total = 0;
    for (const v of this.deferring.values()) total += v;
    this.o.metrics.workersDeferred.set(total);
    return before;
  }

  private target(rc: RayCluster) {
    return { apiVersion: API_VERSION, kind: KIND, metadata: rc.metadata };
  }

  private async syncService(rc: Cluster, plan: Plan, log: Logger, created: string[]) {
    if (!plan.service) return;
    const ns = rc.metadata.namespace!;
    if ("create" in plan.service) {
      try {
        await this.o.rest.create(`/api/v1/namespaces/${ns}/services`, plan.service.create, keyOf(rc));
        log.info(`Created head Service ${plan.service.create.metadata.name}`);
        created.push(`head Service ${plan.service.create.metadata.name}`);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    } else {
      const svcName = headServiceName(rc.metadata.name!);
      await this.o.rest.mergePatch(`/api/v1/namespaces/${ns}/services/${svcName}`, plan.service.patch, keyOf(rc));
      log.info(`Updated the ports of head Service ${svcName}`);
      void this.o.events.record(this.target(rc), "Normal", "UpdatedService", `Updated the ports of head Service ${svcName}`);
    }
  }

  private async deletePods(rc: Cluster, key: string, deletions: PodDeletion[], log: Logger) {
    const deleted = new Map<string, string[]>();
    await Promise.all(
      deletions.map(async ({ pod, reason }) => {
        const kind = nodeKind(pod) ?? "pod";
        this.expectations.expectDeletion(key, podKey(pod));
        try {
          // Preconditions: delete exactly the pod we looked at, never a newer one of the same name.
          await this.o.rest.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, { apiVersion: "v1", kind: "DeleteOptions", preconditions: { uid: pod.metadata.uid } }, key);
          this.o.metrics.podActions.inc({ action: "delete", kind, reason });
          log.info(`Deleted ${kind} pod ${pod.metadata.name} (${reason})`);
          const group = `${kind}|${reason}`;
          deleted.set(group, [...(deleted.get(group) ?? []), pod.metadata.name]);
        } catch (e) {
          this.expectations.deletionObserved(key, podKey(pod));
          if (isNotFound(e) || (e instanceof ApiError && e.code === 409)) return;
          throw e;
        }
      }),
    );
    for (const [group, names] of deleted) {
      const [kind, reason] = group.split("|");
      const warning = reason === "WorkerFailed" || reason === "HeadFailed";
      void this.o.events.record(this.target(rc), warning ? "Warning" : "Normal", "DeletedPod", `Deleted ${kind} pod${names.length > 1 ? "s" : ""} ${names.sort().join(", ")}: ${reason}`);
    }
  }

  /**
   * Creates what the plan asks; returns a message when the API server refuses for good (403, 422).
   * A new head is named here, so its workers (which carry that name) are created in the same wave
   * as the head: one round trip for a new cluster instead of two. If the head's create fails, the
   * workers of that wave are deleted again at once, and the cluster's next creates go one step at a
   * time (head, then workers) until a create succeeds: a head that keeps failing costs no churn.
   */
  private async createPods(rc: Cluster, key: string, plan: Plan, log: Logger, told: string[]): Promise<string | undefined> {
    const headCreation = plan.creations.find((c) => c.kind === "head");
    const workers = plan.creations.filter((c) => c.kind === "worker");
    if (!headCreation) return this.createBatch(rc, key, workers, log, { told, headName: plan.head?.metadata.name });
    const headName = newHeadPodName(rc);
    const head: Pod[] = [];
    const createHead = () => this.createBatch(rc, key, [headCreation], log, { told, name: headName, out: head });
    if (this.createFailed.has(key)) {
      const fatal = await createHead();
      return fatal || head.length === 0 ? fatal : this.createBatch(rc, key, workers, log, { told, headName });
    }
    const early: Pod[] = [];
    const toldWorkers: string[] = [];
    const [h, w] = await Promise.allSettled([createHead(), this.createBatch(rc, key, workers, log, { told: toldWorkers, headName, out: early })]);
    if (head.length) told.push(...toldWorkers);
    else {
      // The workers' successes must not end the one-step-at-a-time mode the head's failure calls for.
      this.createFailed.add(key);
      if (early.length) await this.deletePods(rc, key, early.map((pod) => ({ pod, reason: "HeadNotCreated" as const })), log);
    }
    if (h.status === "rejected") throw h.reason;
    if (h.value) return h.value;
    if (w.status === "rejected") throw w.reason;
    return w.value;
  }

  /**
   * Creates pods for `creations`; names of what was created go to `told`, the pods to `out`.
   * Workers carry `headName`; `name` fixes the pod's name (a head's).
   */
  private async createBatch(rc: Cluster, key: string, creations: PodCreation[], log: Logger, o: { told: string[]; headName?: string; name?: string; out?: Pod[] }): Promise<string | undefined> {
    const ns = rc.metadata.namespace!;
    // After failures, start small (1, 2, 4...); otherwise create what is needed at once.
    const initial = this.createFailed.has(key) ? 1 : MAX_BATCH;
    let fatal: string | undefined;
    await Promise.all(
      creations.map(async (c) => {
        this.expectations.expectCreations(key, c.count);
        const names: string[] = [];
        // One body, built and serialized once, for all pods of a type: the API server gives each its
        // own name (generateName).
        const pod = JSON.stringify(buildPod(rc, c.type, c.kind, { headPodName: o.headName, name: o.name }));
        const { done, error } = await slowStartBatch(c.count, initial, MAX_BATCH, async () => {
          try {
            const created = await this.o.rest.create<Pod>(`/api/v1/namespaces/${ns}/pods`, pod, key);
            this.createFailed.delete(key);
            this.o.metrics.podActions.inc({ action: "create", kind: c.kind, reason: "" });
            log.info(`Created ${c.kind} pod ${created.metadata.name} (type ${c.type})`);
            names.push(created.metadata.name);
            o.out?.push(created);
          } catch (e) {
            this.expectations.creationObserved(key);
            this.createFailed.add(key);
            throw e;
          }
        });
        if (names.length) o.told.push(`${c.kind} pod${names.length > 1 ? "s" : ""} ${names.sort().join(", ")}`);
        // Creates never attempted will never be observed either.
        const skipped = c.count - done - (error ? 1 : 0);
        for (let i = 0; i < skipped; i++) this.expectations.creationObserved(key);
        if (error) {
          const msg = error instanceof ApiError ? error.message : String(error);
          log.error(`Failed to create ${c.kind} pod (type ${c.type}): ${msg}`);
          void this.o.events.record(this.target(rc), "Warning", "FailedCreate", `Failed to create ${c.kind} pod of type ${c.type}: ${msg}`);
          if (error instanceof ApiError && (error.code === 403 || error.code === 422 || error.code === 400)) fatal = `creating ${c.kind} pods of type ${c.type}: ${msg}`;
          else throw error;
        }
      }),
    );
    return fatal;
  }

  /** Writes status through the status subresource, only when it changed. Returns whether it did. */
  private async writeStatus(rc: Cluster, inputs: StatusInputs): Promise<boolean> {
    const status = computeStatus(inputs);
    if (sameStatus(rc.status, status)) return false;
    const key = keyOf(rc);
    // Progress counts alone are written at most once a second per cluster: a scale-up of hundreds of
    // pods would otherwise cost one status write per pod. Anything else is written at once.
    const last = this.statusWrittenAt.get(key) ?? 0;
    if (!significantChange(rc.status, status) && Date.now() - last < STATUS_PROGRESS_INTERVAL_MS) {
      this.queue.addAfter(key, STATUS_PROGRESS_INTERVAL_MS - (Date.now() - last));
      return false;
    }
    this.statusWrittenAt.set(key, Date.now());
    const patch = mergePatch(rc.status ?? {}, status);
    try {
      const updated = await this.o.rest.mergePatch<Stored<RayCluster>>(`/apis/${GROUP}/${VERSION}/namespaces/${rc.metadata.namespace}/${PLURAL}/${rc.metadata.name}/status`, { status: patch }, keyOf(rc));
      this.clusters.remember(updated);
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
    if (rc.status?.phase !== status.phase) this.o.log.forCluster(rc.metadata.name!).info(`phase ${rc.status?.phase ?? "(none)"} -> ${status.phase}`);
    return true;
  }
}
