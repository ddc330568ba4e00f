// The RayCluster controller: informers on RayClusters and on the pods and Services they own
// (label-filtered), handlers that only enqueue `namespace/name`, a de-duplicating work queue with
// per-key backoff and several workers, and a level-triggered reconcile that compares the RayCluster
// with what the cache holds, acts, and writes status only when it changed.
import { API_VERSION, GROUP, KIND, LABELS, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { Defaulted, defaulted } from "../../api/v1/defaults";
import { checkWorkable } from "../../api/v1/workable";
import { headServiceName, newHeadPodName } from "../../builders/names";
import { buildPod, podShape } from "../../builders/pod";
import { Informer, KubeObject, Stored, keyOf } from "../kube/informer";
import { ApiError, KubeRest, isNotFound, isAlreadyExists } from "../kube/rest";
import { EventRecorder } from "../kube/events";
import { OperatorMetrics } from "../server/metrics";
import type { Logger } from "../util/log";
import { Expectations } from "./expectations";
import { mergePatch } from "./merge-patch";
import { Plan, PodCreation, PodDeletion, ScaleIntent, planCluster } from "./plan";
import {
  Pod,
  Service,
  awaitingScheduler,
  cachedPod,
  controllerKey,
  endOf,
  isTerminating,
  nodeKind,
  ownedBy,
  podKey,
} from "./pods";
import { computeStatus, sameStatus, significantChange, StatusInputs } from "./status";
import { WorkQueue, ReconcileResult } from "./workqueue";
import { Refusal, refusalOf } from "./refusals";
import { NamespaceGate } from "./namespaces";
import { AdmittedShapes } from "./admitted-shapes";
import { failpoint } from "../util/failpoint";
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
  /** The autoscaler runs: a worker that is a Ray node goes only once Ray drained it (see PlanLimits). */
  autoscaling?: boolean;
  /** The operator's own namespace: in cluster-wide mode, the value of the opt-in label (namespaces.ts). */
  operatorNamespace?: string;
}

/** What the controller does with its informers, whatever they cache. */
type InformerControl = Pick<
  Informer<KubeObject>,
  "start" | "stop" | "waitForSync" | "hasSynced" | "alive" | "healthy" | "name" | "lastError" | "restarts"
>;

/** What the autoscaler tells the controller about one cluster. */
export interface AutoscalerReport {
  intent: ScaleIntent;
  status?: RayClusterStatus["autoscaler"];
  unreachable?: string;
  /** Workers the autoscaler is draining or has drained (kept in status.autoscaler.draining). */
  draining?: string[];
}

const POD_UPDATE_COALESCE_MS = 100;
const POD_UPDATE_COALESCE_MS_PER_POD = 0.5;
const STATUS_PROGRESS_INTERVAL_MS = 1000;
/** A reconcile's requests each time out within 30 s; one running this long is stuck. */
const STUCK_RECONCILE_MS = 10 * 60_000;
/**
 * How soon a refusal that may change without the RayCluster changing (a 403: Pod Security, a quota,
 * an admission policy) is tried again: 5 s, doubling to 5 min, until a create succeeds.
 */
const slowRetryMs = (attempt: number) => Math.min(300_000, 5000 * 2 ** attempt);
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

const clusterPath = (ns?: string) =>
  ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
const podsPath = (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/pods` : "/api/v1/pods");
const servicesPath = (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/services` : "/api/v1/services");

/**
 * Calls `fn` `count` times in batches of `initial`, then twice as many each round, up to `max`
 * (ReplicaSet's slow start, from 1, after a failure): a create that keeps failing fails once, not
 * `count` times. Stops at the first failed batch.
 */
async function slowStartBatch(
  count: number,
  initial: number,
  max: number,
  fn: () => Promise<void>,
): Promise<{ done: number; error?: unknown }> {
  let done = 0;
  for (let batch = Math.max(1, initial); done < count; batch = Math.min(batch * 2, max)) {
    const size = Math.min(batch, count - done);
    const results = await Promise.allSettled(Array.from({ length: size }, fn));
    const failed = results.find((result) => result.status === "rejected") as PromiseRejectedResult | undefined;
    done += results.filter((result) => result.status === "fulfilled").length;
    if (failed) return { done, error: failed.reason };
  }
  return { done };
}

/** Deletions of pods that failed: logged and recorded as warnings, with why they ended. */
const FAILED: ReadonlySet<string> = new Set(["WorkerFailed", "HeadFailed"]);

/** A create the API server answered with a refusal (4xx but 408): nothing was stored. */
function refusedForSure(e: unknown): boolean {
  return e instanceof ApiError && e.code >= 400 && e.code < 500 && e.code !== 408;
}

export class RayClusterController {
  readonly clusters: Informer<Stored<RayCluster>>;
  readonly pods: Informer<Pod>;
  readonly services: Informer<Service>;
  /** Which namespaces it runs pods in (Pod Security; opt-in in cluster-wide mode). */
  readonly namespaces: NamespaceGate;
  /** The informers this controller runs (the namespaces' only in cluster-wide mode). */
  private readonly informers: InformerControl[];
  readonly queue = new WorkQueue();
  readonly expectations = new Expectations();
  private readonly reports = new Map<string, AutoscalerReport>();
  /** Clusters whose last pod create failed: their next creates start with a batch of one. */
  private readonly lastCreateFailed = new Set<string>();
  /**
   * The last refusal (400, 403, 422) of a cluster's pods, with the generation it was made for: a
   * terminal one stops the cluster's creates until its spec changes; a slow one is retried rarely.
   */
  private readonly createRefusals = new Map<string, Refusal & { generation: string }>();
  /** Generations whose head and workers passed a server-side dry run: `namespace/name` → `uid/generation`. */
  private readonly admitted = new Map<string, string>();
  /** Pod shapes dry runs admitted a moment ago, and dry runs under way. */
  private readonly admittedShapes = new AdmittedShapes();
  /** How many times in a row a cluster's creates were refused in a way that may change (403). */
  private readonly slowRetries = new Map<string, number>();
  private readonly statusWrittenAt = new Map<string, number>();
  /** Workers held back by the scheduler window, by cluster: each pod the scheduler takes makes room. */
  private readonly deferring = new Map<string, number>();
  private resyncTimer?: NodeJS.Timeout;
  private gaugeTimer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly opts: ControllerOptions) {
    const byCluster = (obj: KubeObject) => controllerKey(obj);
    this.clusters = new Informer<Stored<RayCluster>>(opts.rest, {
      name: "rayclusters",
      path: clusterPath(opts.namespace),
      log: opts.log,
    });
    // Only pods and Services carrying the cluster label: the operator never caches the rest.
    this.pods = new Informer<Pod>(opts.rest, {
      name: "pods",
      path: podsPath(opts.namespace),
      labelSelector: LABELS.clusterName,
      indexBy: byCluster,
      keep: cachedPod,
      log: opts.log,
    });
    this.services = new Informer<Service>(opts.rest, {
      name: "services",
      path: servicesPath(opts.namespace),
      labelSelector: LABELS.clusterName,
      indexBy: byCluster,
      log: opts.log,
    });

    this.clusters.on({
      add: (rc) => this.queue.add(keyOf(rc)),
      // Our own status writes come back as updates; only spec, labels or deletion matter.
      update: (before, after) => {
        if (
          before.metadata.generation !== after.metadata.generation ||
          JSON.stringify(before.metadata.labels) !== JSON.stringify(after.metadata.labels) ||
          before.metadata.deletionTimestamp !== after.metadata.deletionTimestamp ||
          before.metadata.uid !== after.metadata.uid
        )
          this.queue.add(keyOf(after));
      },
      delete: (rc) => {
        this.expectations.forget(keyOf(rc));
        this.statusWrittenAt.delete(keyOf(rc));
        this.lastCreateFailed.delete(keyOf(rc));
        this.createRefusals.delete(keyOf(rc));
        this.admitted.delete(keyOf(rc));
        this.slowRetries.delete(keyOf(rc));
        this.setDeferred(keyOf(rc), 0);
        this.reports.delete(keyOf(rc));
        this.queue.add(keyOf(rc));
      },
    });
    this.pods.on({
      add: (pod) => {
        const key = controllerKey(pod);
        if (!key) return;
        this.expectations.creationObserved(key);
        if (isTerminating(pod)) this.expectations.deletionObserved(key, podKey(pod));
        this.queue.add(key);
      },
      update: (before, after) => {
        const key = controllerKey(after);
        if (!key) return;
        if (isTerminating(after) && !isTerminating(before)) {
          this.expectations.deletionObserved(key, podKey(after));
          this.queue.add(key);
        } else if (this.deferring.has(key) && awaitingScheduler(before) && !awaitingScheduler(after)) {
          // Room in the scheduler window: the next workers go now, or the window would pace the
          // scale-up slower than the scheduler.
          this.queue.add(key);
        } else {
          // Pods of one cluster change state in bursts (scheduled, running, ready), and a pass costs
          // in proportion to the cluster's pods: a big cluster's burst is looked at once per window
          // (up to 100 ms), a small cluster's change at once.
          this.queue.addAfter(
            key,
            Math.min(POD_UPDATE_COALESCE_MS, this.pods.countByIndex(key) * POD_UPDATE_COALESCE_MS_PER_POD),
          );
        }
      },
      delete: (pod) => {
        const key = controllerKey(pod);
        if (!key) return;
        this.expectations.deletionObserved(key, podKey(pod));
        this.queue.add(key);
      },
    });
    const enqueueOwner = (service: Service) => {
      const key = controllerKey(service);
      if (key) this.queue.add(key);
    };
    this.services.on({ add: enqueueOwner, update: (_, after) => enqueueOwner(after), delete: enqueueOwner });
    this.namespaces = new NamespaceGate({
      rest: opts.rest,
      watchNamespace: opts.namespace,
      operatorNamespace: opts.operatorNamespace ?? opts.namespace ?? "default",
      log: opts.log,
    });
    // A namespace that opts in or out, or gains a Pod Security level: its clusters are looked at again.
    const enqueueClustersIn = (namespace: { metadata: { name: string } }) => {
      for (const rc of this.clusters.list())
        if (rc.metadata.namespace === namespace.metadata.name) this.queue.add(keyOf(rc));
    };
    this.namespaces.informer?.on({
      add: enqueueClustersIn,
      update: (_, after) => enqueueClustersIn(after),
      delete: enqueueClustersIn,
    });
    this.informers = [this.clusters, this.pods, this.services];
    if (this.namespaces.informer) this.informers.push(this.namespaces.informer);
  }

  /** Starts the informers; resolves when their caches are synced. */
  async startInformers(): Promise<void> {
    for (const informer of this.informers) informer.start();
    await Promise.all(this.informers.map((informer) => informer.waitForSync()));
  }

  synced(): boolean {
    return this.informers.every((informer) => informer.hasSynced());
  }

  /**
   * Liveness: this process is not stuck. An API-server outage does not make it fail (restarting
   * the operator would help nothing); an informer loop that died, or a reconcile that has run for
   * longer than any of its requests could take, does.
   */
  healthy(): { ok: boolean; detail: string } {
    const dead = this.informers.filter((informer) => !informer.alive());
    if (dead.length) return { ok: false, detail: `informer loops ended: ${dead.map((i) => i.name).join(", ")}` };
    const stuckMs = this.queue.longestRunningMs();
    if (stuckMs > STUCK_RECONCILE_MS)
      return { ok: false, detail: `a reconcile has run for ${Math.round(stuckMs / 1000)}s` };
    return { ok: true, detail: "informers running, reconciles moving" };
  }

  /** Readiness: the caches are synced and every watch is open (this follows the API server). */
  ready(): { ok: boolean; detail: string } {
    if (!this.synced()) return { ok: false, detail: "caches syncing" };
    const lost = this.informers.filter((informer) => !informer.healthy());
    return lost.length
      ? { ok: false, detail: `not watching: ${lost.map((informer) => informer.lastError ?? informer.name).join("; ")}` }
      : { ok: true, detail: "caches synced, watching" };
  }

  /** Runs the workers (after startInformers). */
  start(): void {
    for (const rc of this.clusters.list()) this.queue.add(keyOf(rc));
    const resync = (this.opts.resyncSeconds ?? 300) * 1000;
    // Level-triggered safety net: every cluster is looked at again periodically.
    this.resyncTimer = setInterval(() => this.clusters.list().forEach((rc) => this.queue.add(keyOf(rc))), resync);
    this.gaugeTimer = setInterval(() => this.updateGauges(), 10_000);
    this.running = this.queue.run(
      this.opts.workers,
      (key) => this.timedReconcile(key),
      (key, error, retryMs) => {
        this.opts.metrics.reconcileErrors.inc();
        this.opts.metrics.reconciles.inc({ result: "error" });
        this.opts.log
          .forCluster(key.split("/")[1])
          .warn(`reconcile failed: ${(error as Error).message}; retrying in ${(retryMs / 1000).toFixed(1)}s`);
      },
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    clearInterval(this.gaugeTimer);
    this.queue.shutdown();
    for (const informer of this.informers) informer.stop();
    await this.running;
  }

  /** The autoscaler's decision for a cluster; the next reconcile acts on it. */
  report(key: string, report: AutoscalerReport): void {
    this.reports.set(key, report);
    this.queue.add(key);
  }

  /** The workers being drained, as this process knows them, else as status remembers them. */
  drainingOf(rc: Stored<RayCluster>): string[] {
    return this.reports.get(keyOf(rc))?.draining ?? rc.status?.autoscaler?.draining ?? [];
  }

  /**
   * Writes, before the autoscaler asks Ray to drain them, the workers it will drain and the worker
   * targets without them (status.autoscaler.draining, status.podTypes[].desired): an operator that
   * dies after Ray drained a node then restarts knowing exactly which pod goes, and replaces none.
   * Throws when the write fails; the autoscaler then drains nothing.
   */
  async persistDraining(key: string, draining: string[], targets: Record<string, number>): Promise<void> {
    const cached = this.clusters.get(key);
    if (!cached || cached.metadata.deletionTimestamp) throw new Error(`RayCluster ${key} is gone`);
    const report = this.reports.get(key) ?? { intent: {} };
    const next: AutoscalerReport = { ...report, intent: { ...report.intent, targets }, draining };
    this.reports.set(key, next);
    const rc = defaulted(cached);
    const pods = this.podsOf(rc);
    const service = this.services.byIndex(key).find((candidate) => ownedBy(candidate, rc));
    const plan = planCluster(rc, pods, service, next.intent, this.planLimits());
    await this.writeStatus(rc, {
      rc,
      pods,
      service,
      plan,
      autoscaler: next.status,
      autoscalerUnreachable: next.unreachable,
      draining,
      createError: this.createRefusals.get(key)?.message,
    });
  }

  private planLimits() {
    return { maxUnscheduledWorkers: this.opts.maxUnscheduledWorkers, autoscaling: this.opts.autoscaling };
  }

  /** The pods a RayCluster owns, from the cache. */
  podsOf(rc: RayCluster): Pod[] {
    return this.pods.byIndex(`${rc.metadata.namespace}/${rc.metadata.name}`).filter((pod) => ownedBy(pod, rc));
  }

  private updateGauges() {
    this.opts.metrics.queueDepth.set(this.queue.depth());
    this.opts.metrics.clusters.reset();
    for (const rc of this.clusters.list()) this.opts.metrics.clusters.inc({ phase: rc.status?.phase ?? "Unknown" });
    this.opts.metrics.pods.reset();
    for (const pod of this.pods.list())
      this.opts.metrics.pods.inc({
        kind: nodeKind(pod) ?? "unknown",
        phase: isTerminating(pod) ? "Terminating" : (pod.status?.phase ?? "Unknown"),
      });
    for (const informer of this.informers)
      this.opts.metrics.informerRestarts.set({ informer: informer.name }, informer.restarts);
  }

  private async timedReconcile(key: string): Promise<ReconcileResult> {
    const end = this.opts.metrics.reconcileDuration.startTimer();
    try {
      const result = await this.reconcile(key);
      this.opts.metrics.reconciles.inc({
        result: result && result.requeueAfterMs !== undefined ? "requeue" : "success",
      });
      return result;
    } finally {
      end();
      this.opts.metrics.queueDepth.set(this.queue.depth());
    }
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const cached = this.clusters.get(key);
    if (!cached || cached.metadata.deletionTimestamp) {
      // Children go through garbage collection (owner references); nothing to do, nothing to block.
      this.expectations.forget(key);
      return;
    }
    // Cluster-wide, a namespace that did not opt in is not ours: not a status write, not an event.
    if (!this.namespaces.managed(cached.metadata.namespace!)) return;
    // The door: defaults are filled here, once; the checks, the plan and the builders read this.
    const rc = defaulted(cached);
    const name = rc.metadata.name!;
    const log = this.opts.log.forCluster(name);
    const pods = this.podsOf(rc);
    const service = this.services.byIndex(key).find((candidate) => ownedBy(candidate, rc));

    const invalid = checkWorkable(rc);
    if (invalid.length) {
      const changed = await this.writeStatus(rc, { rc, pods, service, invalid });
      if (changed) {
        log.warn(
          `cannot run this RayCluster: ${invalid.map((error) => `${error.field}: ${error.message}`).join("; ")}`,
        );
        void this.opts.events.record(
          this.target(rc),
          "Warning",
          "InvalidSpec",
          invalid.map((error) => `${error.field}: ${error.message}`).join("; "),
        );
      }
      return;
    }

    const report = this.reports.get(key);
    const plan = planCluster(rc, pods, service, report?.intent, this.planLimits());
    if (!this.setDeferred(key, plan.deferred) && plan.deferred)
      log.info(
        `pacing the scale-up: ${plan.deferred} more workers are created as the scheduler takes the ones ` +
          `waiting for it (MAX_UNSCHEDULED_WORKERS=${this.opts.maxUnscheduledWorkers})`,
      );
    const inputs: StatusInputs = {
      rc,
      pods,
      service,
      plan,
      autoscaler: report?.status,
      autoscalerUnreachable: report?.unreachable,
      draining: report?.draining,
    };

    // A refusal is for the generation it was made for: a changed spec is tried again.
    const generation = `${rc.metadata.uid}/${rc.metadata.generation}`;
    if (this.createRefusals.get(key)?.generation !== generation) this.createRefusals.delete(key);
    if (!this.expectations.satisfied(key)) {
      // The cache has not caught up with our own creates/deletes: act on nothing, look again soon.
      inputs.createError = this.createRefusals.get(key)?.message;
      await this.writeStatus(rc, inputs);
      return { requeueAfterMs: 5000 };
    }
    const standing = this.createRefusals.get(key);
    if (standing?.kind === "terminal" && plan.creations.length) {
      // No retry can change what the API server refused: nothing more until the spec changes.
      inputs.createError = standing.message;
      await this.writeStatus(rc, inputs);
      return;
    }
    if (plan.creations.length && this.admitted.get(key) !== generation) {
      // Once per generation, before its first create: may pods run in this namespace, and would the
      // API server admit them?
      const refusal = (await this.namespaces.podSecurity(rc.metadata.namespace!)) ?? (await this.dryRun(rc, log));
      if (refusal) {
        this.createRefusals.set(key, { ...refusal, generation });
        log.error(refusal.message);
        void this.opts.events.record(this.target(rc), "Warning", "FailedCreate", refusal.message);
        inputs.createError = refusal.message;
        await this.writeStatus(rc, inputs);
        return refusal.kind === "slow" ? { requeueAfterMs: this.slowRetry(key) } : undefined;
      }
      this.admitted.set(key, generation);
      this.createRefusals.delete(key);
    }

    if (plan.restart && rc.status?.head?.podName) {
      const headPod = rc.status.head.podName;
      const outdated = plan.restart === "HeadOutdated";
      log.warn(`head pod ${headPod} ${outdated ? "is outdated" : "was lost"}; restarting the cluster`);
      const why = outdated ? "outdated" : plan.restart === "HeadFailed" ? "failed" : "was lost";
      void this.opts.events.record(
        this.target(rc),
        "Warning",
        "ClusterRestart",
        `head pod ${headPod} ${why}: restarting the cluster`,
      );
    }
    // Everything one pass creates is told in one event: events are API writes too.
    const created: string[] = [];
    // The Service, the deletions and the creations do not depend on one another: one round trip, not three.
    const [serviceSynced, podsDeleted, podsCreated] = await Promise.allSettled([
      this.syncService(rc, plan, log, created),
      this.deletePods(rc, key, plan.deletions, log),
      this.createPods(rc, key, plan, log, created),
    ]);
    if (created.length)
      void this.opts.events.record(this.target(rc), "Normal", "Created", `Created ${created.join("; ")}`);
    for (const outcome of [serviceSynced, podsDeleted, podsCreated])
      if (outcome.status === "rejected") throw outcome.reason;
    const refusal = (podsCreated as PromiseFulfilledResult<Refusal | undefined>).value;
    // A refusal stays in status (Stalled) until a pass creates what it planned.
    if (refusal) {
      this.createRefusals.set(key, { ...refusal, generation });
      this.admittedShapes.forget(rc.metadata.namespace!);
    } else if (plan.creations.length) {
      this.createRefusals.delete(key);
      this.slowRetries.delete(key);
    }
    inputs.createError = refusal?.message ?? this.createRefusals.get(key)?.message;
    await this.writeStatus(rc, inputs);
    return refusal?.kind === "slow" ? { requeueAfterMs: this.slowRetry(key) } : undefined;
  }

  /** Records how many of a cluster's workers the window holds back; returns how many it held before. */
  private setDeferred(key: string, count: number): number {
    const before = this.deferring.get(key) ?? 0;
    if (before === count) return before;
    if (count) this.deferring.set(key, count);
    else this.deferring.delete(key);
    let total = 0;
    for (const deferred of this.deferring.values()) total += deferred;
    this.opts.metrics.workersDeferred.set(total);
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
        await this.opts.rest.create(`/api/v1/namespaces/${ns}/services`, plan.service.create, keyOf(rc));
        log.info(`Created head Service ${plan.service.create.metadata.name}`);
        created.push(`head Service ${plan.service.create.metadata.name}`);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    } else {
      const svcName = headServiceName(rc.metadata.name!);
      await this.opts.rest.mergePatch(`/api/v1/namespaces/${ns}/services/${svcName}`, plan.service.patch, keyOf(rc));
      log.info(`Updated the ports of head Service ${svcName}`);
      void this.opts.events.record(
        this.target(rc),
        "Normal",
        "UpdatedService",
        `Updated the ports of head Service ${svcName}`,
      );
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
          await this.opts.rest.delete(
            `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
            { apiVersion: "v1", kind: "DeleteOptions", preconditions: { uid: pod.metadata.uid } },
            key,
          );
          this.opts.metrics.podActions.inc({ action: "delete", kind, reason });
          const ended = FAILED.has(reason) ? endOf(pod) : "";
          if (ended) log.warn(`Deleted ${kind} pod ${pod.metadata.name} (${reason}): ${ended}`);
          else log.info(`Deleted ${kind} pod ${pod.metadata.name} (${reason})`);
          const group = `${kind}|${reason}`;
          const named = ended ? `${pod.metadata.name} (${ended})` : pod.metadata.name;
          deleted.set(group, [...(deleted.get(group) ?? []), named]);
        } catch (e) {
          this.expectations.deletionObserved(key, podKey(pod));
          if (isNotFound(e) || (e instanceof ApiError && e.code === 409)) return;
          throw e;
        }
      }),
    );
    for (const [group, names] of deleted) {
      const [kind, reason] = group.split("|");
      const warning = FAILED.has(reason);
      void this.opts.events.record(
        this.target(rc),
        warning ? "Warning" : "Normal",
        "DeletedPod",
        `Deleted ${kind} pod${names.length > 1 ? "s" : ""} ${names.sort().join(", ")}: ${reason}`,
      );
    }
  }

  /**
   * Creates what the plan asks; returns a message when the API server refuses for good (403, 422).
   * A new head is named here, so its workers (which carry that name) are created in the same wave
   * as the head: one round trip for a new cluster instead of two. If the head's create fails, the
   * workers of that wave are deleted again at once, and the cluster's next creates go one step at a
   * time (head, then workers) until a create succeeds: a head that keeps failing costs no churn.
   */
  private async createPods(
    rc: Cluster,
    key: string,
    plan: Plan,
    log: Logger,
    told: string[],
  ): Promise<Refusal | undefined> {
    const headCreation = plan.creations.find((creation) => creation.kind === "head");
    const workers = plan.creations.filter((creation) => creation.kind === "worker");
    if (!headCreation) return this.createBatch(rc, key, workers, log, { told, headName: plan.head?.metadata.name });
    const headName = newHeadPodName(rc);
    const head: Pod[] = [];
    const createHead = () => this.createBatch(rc, key, [headCreation], log, { told, name: headName, out: head });
    if (this.lastCreateFailed.has(key)) {
      let refused: Refusal | undefined;
      try {
        refused = await createHead();
      } catch (e) {
        if (!(await this.headStoredAnyway(rc, key, headName, e, log))) throw e;
        head.push({ metadata: { name: headName } } as Pod);
      }
      return refused || head.length === 0 ? refused : this.createBatch(rc, key, workers, log, { told, headName });
    }
    const early: Pod[] = [];
    const toldWorkers: string[] = [];
    const [headCreated, workersCreated] = await Promise.allSettled([
      createHead(),
      this.createBatch(rc, key, workers, log, { told: toldWorkers, headName, out: early }),
    ]);
    // Before undoing anything: a head create that failed without a refusal may have happened.
    const headThrew = headCreated.status === "rejected";
    if (!head.length && headThrew && (await this.headStoredAnyway(rc, key, headName, headCreated.reason, log))) {
      head.push({ metadata: { name: headName } } as Pod);
      told.push(`head pod ${headName}`);
      if (workersCreated.status === "rejected") throw workersCreated.reason;
      told.push(...toldWorkers);
      return workersCreated.value;
    }
    if (head.length) told.push(...toldWorkers);
    else {
      // The workers' successes must not end the one-step-at-a-time mode the head's failure calls for.
      this.lastCreateFailed.add(key);
      if (early.length)
        await this.deletePods(
          rc,
          key,
          early.map((pod) => ({ pod, reason: "HeadNotCreated" as const })),
          log,
        );
    }
    if (headCreated.status === "rejected") throw headCreated.reason;
    if (headCreated.value) return headCreated.value;
    if (workersCreated.status === "rejected") throw workersCreated.reason;
    return workersCreated.value;
  }

  /**
   * A head create that threw (no refusal: a timeout, a dropped connection, a 5xx, a 409) may have been
   * stored. The operator named the head, so it looks: found, the head exists; not found, a create of
   * unknown outcome (which createBatch kept expected) is known now, and no longer expected.
   */
  private async headStoredAnyway(rc: Cluster, key: string, headName: string, error: unknown, log: Logger) {
    if (await this.headExists(rc, headName)) {
      log.info(`head pod ${headName} was created although its create failed (${(error as Error).message})`);
      return true;
    }
    if (!refusedForSure(error)) this.expectations.creationObserved(key);
    return false;
  }

  /** The delay before a slow refusal is tried again, counting this one. */
  private slowRetry(key: string): number {
    const attempt = this.slowRetries.get(key) ?? 0;
    this.slowRetries.set(key, attempt + 1);
    return slowRetryMs(attempt);
  }

  /** Whether a pod of this name exists, asked of the API server (a list by name: no `get` needed). */
  private async headExists(rc: Cluster, name: string): Promise<boolean> {
    try {
      const list = await this.opts.rest.get<{ items: Pod[] }>(`/api/v1/namespaces/${rc.metadata.namespace}/pods`, {
        fieldSelector: `metadata.name=${name}`,
      });
      return list.items.some((pod) => ownedBy(pod, rc));
    } catch {
      return false;
    }
  }

  /**
   * A server-side dry run of the head and one worker of each type: what the API server would refuse
   * (a Pod's own validation, Pod Security, admission policies) is found before anything is created,
   * with the RayCluster's own field named. Transient failures throw (the pass is retried). Pods
   * whose shape (podShape) a dry run admitted in the namespace a moment ago are not asked again
   * (AdmittedShapes).
   */
  private async dryRun(rc: Cluster, log: Logger): Promise<Refusal | undefined> {
    const ns = rc.metadata.namespace!;
    const spec = rc.spec;
    const now = Date.now();
    const identity = { name: rc.metadata.name!, uid: rc.metadata.uid };
    const pods = spec.podTypes.map((podType, index) => {
      const kind = podType.name === spec.headPodType ? ("head" as const) : ("worker" as const);
      const name = kind === "head" ? newHeadPodName(rc) : undefined;
      const body = buildPod(rc, podType.name, kind, { headPodName: "dry-run", name });
      return { index, kind, type: podType.name, body, shape: AdmittedShapes.key(ns, podShape(body, identity)) };
    });
    const asked = pods.filter((p) => !this.admittedShapes.fresh(p.shape, now));
    if (!asked.length) {
      log.debug(`dry run of ${pods.length} pod(s) skipped: pods of the same shape were admitted here just now`);
      return undefined;
    }
    const results = await Promise.all(
      asked.map(async ({ index, kind, type, body, shape }) => {
        try {
          const query = { dryRun: "All" };
          const ask = () =>
            this.opts.rest.request("POST", `/api/v1/namespaces/${ns}/pods`, { body, query, flow: keyOf(rc) });
          await this.admittedShapes.ask(shape, ask);
          return undefined;
        } catch (e) {
          const refusal = refusalOf(e, index, `a ${kind} pod of type ${type} (dry run)`);
          if (!refusal) throw e;
          return refusal;
        }
      }),
    );
    const refusals = results.filter((r): r is Refusal => !!r);
    if (!refusals.length) {
      log.debug(`dry run of ${asked.length} pod(s) admitted`);
      for (const { shape } of asked) this.admittedShapes.remember(shape, now);
      return undefined;
    }
    const kind = refusals.some((r) => r.kind === "terminal") ? "terminal" : "slow";
    return { kind, message: refusals.map((r) => r.message).join("; ") };
  }

  /**
   * Creates pods for `creations`; names of what was created go to `told`, the pods to `out`.
   * Workers carry `headName`; `name` fixes the pod's name (a head's).
   */
  private async createBatch(
    rc: Cluster,
    key: string,
    creations: PodCreation[],
    log: Logger,
    batch: { told: string[]; headName?: string; name?: string; out?: Pod[] },
  ): Promise<Refusal | undefined> {
    const ns = rc.metadata.namespace!;
    // After failures, start small (1, 2, 4...); otherwise create what is needed at once.
    const initial = this.lastCreateFailed.has(key) ? 1 : MAX_BATCH;
    let refused: Refusal | undefined;
    await Promise.all(
      creations.map(async (creation) => {
        this.expectations.expectCreations(key, creation.count);
        const names: string[] = [];
        // One body, built and serialized once, for all pods of a type: the API server gives each its
        // own name (generateName).
        const pod = JSON.stringify(
          buildPod(rc, creation.type, creation.kind, { headPodName: batch.headName, name: batch.name }),
        );
        const { done, error } = await slowStartBatch(creation.count, initial, MAX_BATCH, async () => {
          try {
            const created = await this.opts.rest.create<Pod>(`/api/v1/namespaces/${ns}/pods`, pod, key);
            if (creation.kind === "head" && failpoint("lose-head-create-answer"))
              throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
            this.lastCreateFailed.delete(key);
            this.opts.metrics.podActions.inc({ action: "create", kind: creation.kind, reason: "" });
            log.info(`Created ${creation.kind} pod ${created.metadata.name} (type ${creation.type})`);
            names.push(created.metadata.name);
            batch.out?.push(created);
          } catch (e) {
            // Refused (4xx): it will never be seen. No answer, a timeout or a 5xx: it may have been
            // stored, and creating another before the cache knows would duplicate it.
            if (refusedForSure(e)) this.expectations.creationObserved(key);
            else this.expectations.creationUncertain(key);
            this.lastCreateFailed.add(key);
            throw e;
          }
        });
        if (names.length)
          batch.told.push(`${creation.kind} pod${names.length > 1 ? "s" : ""} ${names.sort().join(", ")}`);
        // Creates never attempted will never be observed either.
        const skipped = creation.count - done - (error ? 1 : 0);
        for (let i = 0; i < skipped; i++) this.expectations.creationObserved(key);
        if (error) {
          const typeIndex = rc.spec.podTypes.findIndex((podType) => podType.name === creation.type);
          const refusal = refusalOf(error, typeIndex, `a ${creation.kind} pod of type ${creation.type}`);
          const message = refusal?.message ?? (error instanceof Error ? error.message : String(error));
          log.error(`Failed to create ${creation.kind} pod (type ${creation.type}): ${message}`);
          void this.opts.events.record(
            this.target(rc),
            "Warning",
            "FailedCreate",
            `Failed to create ${creation.kind} pod of type ${creation.type}: ${message}`,
          );
          if (!refusal) throw error;
          if (!refused || refusal.kind === "terminal") refused = refusal;
        }
      }),
    );
    return refused;
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
      const updated = await this.opts.rest.mergePatch<Stored<RayCluster>>(
        `/apis/${GROUP}/${VERSION}/namespaces/${rc.metadata.namespace}/${PLURAL}/${rc.metadata.name}/status`,
        { status: patch },
        keyOf(rc),
      );
      this.clusters.remember(updated);
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
    if (rc.status?.phase !== status.phase)
      this.opts.log.forCluster(rc.metadata.name!).info(`phase ${rc.status?.phase ?? "(none)"} -> ${status.phase}`);
    return true;
  }
}
