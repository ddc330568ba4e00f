// The autoscaling loop of the operator: every interval, for each RayCluster whose head runs, one
// pass of ClusterAutoscaler (read Ray's demand from the head's GCS, decide, drain, report), whose
// decision is handed to the reconciler as an intent (worker targets per type, drained pods to
// remove). Each cluster's pass runs on its own: a slow or unreachable head never delays another
// cluster's. When the GCS cannot be reached nothing is deleted, the cluster's status says why, and
// the next try backs off.
import { RayCluster, RayClusterStatus } from "../../api/v1/types";
import { Defaulted, DefaultedRayCluster, defaulted } from "../../api/v1/defaults";
import { checkWorkable } from "../../api/v1/workable";
import { headAddress } from "../../builders/names";
import { nodeTypeResources } from "../../builders/resources";
import { canonicalJson } from "../../builders/hash";
import { keyOf, Stored } from "../kube/informer";
import type { RayClusterController } from "../controller/raycluster-controller";
import { isRunning, isTerminating, nodeKind, podType, created } from "../controller/pods";
import type { OperatorMetrics } from "../server/metrics";
import type { Logger } from "../util/log";
import { AutoscalingSpec, ClusterAutoscaler, GcsApi, StepOk } from "./autoscaler";
import type * as GcsClientModule from "./gcs-client";
import { failpoint } from "../util/failpoint";

/**
 * What the loop needs of the controller: the cached RayClusters and their pods, the drains it keeps,
 * and where a pass's outcome goes. RayClusterController is one; the autoscaler's benchmark gives an
 * in-memory one, so that a pass is measured on its own, without a reconciler acting on each report.
 */
export interface AutoscalerController {
  clusters: Pick<RayClusterController["clusters"], "list">;
  podsOf: RayClusterController["podsOf"];
  drainingOf: RayClusterController["drainingOf"];
  persistDraining: RayClusterController["persistDraining"];
  report: RayClusterController["report"];
}

/** A head's GCS as the loop holds it: `disconnect` drops the channel until the next call. */
export type GcsConnection = GcsApi & { close(): void; disconnect(): void };

export interface AutoscalerLoopOptions {
  controller: AutoscalerController;
  log: Logger;
  metrics: OperatorMetrics;
  intervalSeconds: number;
  /** `namespace/name` → `host:port` of the GCS, instead of the head Service (out-of-cluster runs, tests). */
  gcsOverrides?: Map<string, string>;
  /** For tests: how to reach a GCS. */
  connect?: (address: string) => GcsConnection;
  /** For tests: the clock (Date.now). */
  now?: () => number;
}

interface ClusterState {
  uid: string;
  address: string;
  /** The head pod this state was built against: a new head is a new Ray cluster, and starts afresh. */
  headUid?: string;
  gcs: GcsConnection;
  autoscaler: ClusterAutoscaler;
  nextAt: number;
  running: boolean;
  /** The last decision's intent, kept while the GCS is unreachable (no removals). */
  targets?: Record<string, number>;
  lastLoggedKey?: string;
  lastLoggedAt: number;
  unreachableSince?: number;
}

/** How often the "Cluster status" block is logged when nothing changes (the seed logged it every pass). */
const STATUS_BLOCK_EVERY_MS = 60_000;

/** A RayCluster's scaling settings as a pass reads them, each type's resources resolved from its pods. */
export function autoscalingSpec(rc: DefaultedRayCluster): AutoscalingSpec {
  const spec = rc.spec;
  return {
    types: spec.podTypes.map((t) => ({
      name: t.name,
      resources: nodeTypeResources(t).resources,
      minWorkers: t.minWorkers,
      maxWorkers: t.maxWorkers,
    })),
    headType: spec.headPodType,
    maxWorkers: spec.maxWorkers,
    upscalingSpeed: spec.upscalingSpeed,
    idleTimeoutMs: spec.idleTimeoutMinutes * 60_000,
  };
}

export class AutoscalerLoop {
  private readonly clusters = new Map<string, ClusterState>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  private readonly now: () => number;

  constructor(private readonly opts: AutoscalerLoopOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 250);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const s of this.clusters.values()) s.gcs.close();
    this.clusters.clear();
  }

  addressOf(rc: Stored<RayCluster>): string {
    const key = keyOf(rc);
    return this.opts.gcsOverrides?.get(key) ?? `${headAddress(rc.metadata.name!, rc.metadata.namespace!)}:6379`;
  }

  private connect(address: string) {
    if (this.opts.connect) return this.opts.connect(address);
    // gRPC (grpc-js, HTTP/2) and Ray's generated messages are loaded with the first cluster's
    // connection, not at start: 11 MB of the idle operator's RSS (#15), for an operator that may
    // watch no RayCluster for a long time.
    const { GcsAutoscalerClient } = require("./gcs-client") as typeof GcsClientModule;
    return new GcsAutoscalerClient({ address, timeoutMs: 5000 });
  }

  /** What the loop knows of a cluster before its first pass: a connection, and nothing learnt yet. */
  private freshState(uid: string, address: string, now: number): ClusterState {
    const gcs = this.connect(address);
    const autoscaler = new ClusterAutoscaler({ gcs });
    return { uid, address, gcs, autoscaler, nextAt: now, running: false, lastLoggedAt: 0 };
  }

  /** The loop's state of a RayCluster, unless it is of an earlier cluster of that name or another address. */
  private knownState(rc: Stored<RayCluster>): ClusterState | undefined {
    const st = this.clusters.get(keyOf(rc));
    return st && st.uid === rc.metadata.uid && st.address === this.addressOf(rc) ? st : undefined;
  }

  /** Starts the passes that are due; never waits for one. */
  tick(): void {
    if (this.stopped) return;
    const now = this.now();
    const listed = this.opts.controller.clusters.list();
    const seen = new Set(listed.map((rc) => keyOf(rc)));
    let unreachable = 0;
    // Each live cluster with the loop's state of it, looked up once (this runs every 250 ms).
    const clusters = listed
      .filter((rc) => !rc.metadata.deletionTimestamp)
      .map((rc) => ({ rc, known: this.knownState(rc) }));
    // The first passes of the clusters met in one tick (all of them when the operator starts) are
    // spread evenly over one period rather than all due now: 100 heads' states read and decided in the
    // same instant make those passes late, and their lateness carries into every period after. A
    // cluster met on its own (a new RayCluster) is asked at once.
    const met = clusters.filter(({ known }) => !known).length;
    let metIndex = 0;
    const interval = this.opts.intervalSeconds * 1000;
    for (const { rc, known } of clusters) {
      const key = keyOf(rc);
      let st = known;
      if (!st) {
        this.clusters.get(key)?.gcs.close();
        const firstAt = now + Math.floor((interval * metIndex++) / met);
        st = this.freshState(rc.metadata.uid!, this.addressOf(rc), firstAt);
        this.clusters.set(key, st);
      }
      const address = st.address;
      if (st.unreachableSince) unreachable++;
      if (st.running || now < st.nextAt) continue;
      // Nothing to ask before the head runs; nothing to do for a spec that cannot work.
      const head = this.opts.controller.podsOf(rc).find((p) => nodeKind(p) === "head" && !isTerminating(p));
      if (!head || !isRunning(head)) continue;
      if (st.headUid && st.headUid !== head.metadata.uid) {
        // A new head is a new Ray cluster (a new GCS behind the same Service): nothing learnt from the
        // old one (versions, pending drains, a connection to the old address) carries over.
        st.gcs.close();
        st = this.freshState(st.uid, address, now);
        this.clusters.set(key, st);
      }
      st.headUid = head.metadata.uid;
      // The pass's door: the RayCluster defaulted once, for this check and for the whole pass.
      const cluster = defaulted(rc);
      if (checkWorkable(cluster).length) continue;
      st.running = true;
      const state = st;
      void this.pass(cluster, key, state)
        .catch((e) =>
          this.opts.log.forCluster(rc.metadata.name!).error(`autoscaler pass failed: ${(e as Error).stack ?? e}`),
        )
        .finally(() => {
          state.running = false;
        });
    }
    for (const [key, st] of this.clusters) {
      if (!seen.has(key)) {
        st.gcs.close();
        this.clusters.delete(key);
      }
    }
    this.opts.metrics.autoscalerUnreachable.set(unreachable);
  }

  async pass(rc: Defaulted<Stored<RayCluster>>, key: string, st: ClusterState): Promise<void> {
    const log = this.opts.log.forCluster(rc.metadata.name!);
    const end = this.opts.metrics.autoscalerDuration.startTimer();
    // Workers being drained are on their way out: neither capacity nor pending launches.
    const workerPods = this.opts.controller.podsOf(rc).filter((p) => nodeKind(p) === "worker");
    // A drained worker whose pod is gone is done with: it leaves the list, or it would be "removed"
    // again on every pass for as long as the cluster lives.
    const present = new Set(workerPods.map((p) => p.metadata.name));
    const previous = this.opts.controller.drainingOf(rc).filter((name) => present.has(name));
    const leaving = new Set(previous);
    const workers = workerPods.map((p) => ({
      name: p.metadata.name,
      type: podType(p) ?? "",
      terminating: isTerminating(p) || leaving.has(p.metadata.name),
      createdMs: created(p),
    }));
    const result = await st.autoscaler.step(autoscalingSpec(rc), workers, {
      previous,
      persist: (draining, targets) => this.opts.controller.persistDraining(key, draining, targets),
    });
    end();
    const interval = this.opts.intervalSeconds * 1000;
    if (!result.ok) {
      this.opts.metrics.autoscalerDecisions.inc({ outcome: "error" });
      const message = `cannot reach the GCS at ${st.address}: ${result.error.message}`;
      if (!st.unreachableSince)
        log.warn(`${message}; keeping the cluster as it is, retrying in ${(result.retryInMs / 1000).toFixed(0)}s`);
      else log.debug(`${message}; retrying in ${(result.retryInMs / 1000).toFixed(0)}s`);
      st.unreachableSince ??= this.now();
      st.nextAt = this.now() + Math.max(interval, result.retryInMs);
      // No channel is held while the head cannot be reached: the next pass opens a new one.
      st.gcs.disconnect();
      // The previous targets stand; nothing is removed while Ray cannot be asked.
      this.opts.controller.report(key, {
        intent: { targets: st.targets },
        status: rc.status?.autoscaler,
        unreachable: message,
        draining: previous,
      });
      return;
    }
    if (st.unreachableSince)
      log.info(`GCS at ${st.address} reachable again after ${((this.now() - st.unreachableSince) / 1000).toFixed(0)}s`);
    st.unreachableSince = undefined;
    st.nextAt = this.now() + interval;

    const targets = { ...result.decision.targetWorkers };
    // A drain Ray refused leaves its node in place: it still counts.
    for (const { removal } of result.drainRejected) targets[removal.type] = (targets[removal.type] ?? 0) + 1;
    st.targets = targets;
    // Fault injection (the fault tests): die the moment Ray has drained a node, before the pod is
    // deleted, as a crash would. What was drained is already in status (see persistDraining).
    if (result.delete.length && failpoint("exit-after-drain")) process.kill(process.pid, "SIGKILL");
    // Drained by Ray, in this pass or (by an operator since restarted) before: these pods go.
    const remove = [...result.drainedBefore, ...result.delete.map((d) => d.instanceId)];
    const launched = Object.values(result.create).reduce((a, b) => a + b, 0);
    this.opts.metrics.autoscalerDecisions.inc({
      outcome: launched > 0 ? "scale_up" : remove.length ? "scale_down" : "steady",
    });
    for (const [type, n] of Object.entries(result.create))
      if (n > 0) this.opts.metrics.autoscalerNodesRequested.inc({ type }, n);
    for (const d of result.delete) this.opts.metrics.autoscalerNodesRemoved.inc({ type: d.type });
    for (const d of result.delete)
      log.info(
        `drained idle worker ${d.instanceId} (${d.type}, idle ${Math.floor(d.idleMs / 1000)}s); removing its pod`,
      );
    for (const name of result.drainedBefore) log.info(`worker ${name} was drained before; removing its pod`);
    for (const { removal, reason } of result.drainRejected)
      log.info(`Ray refused to drain ${removal.instanceId}: ${reason}; keeping it`);
    if (result.reportError) log.debug(`could not report the autoscaling state to Ray: ${result.reportError}`);

    this.opts.controller.report(key, {
      intent: { targets, drained: remove },
      status: this.statusOf(rc, result, targets, remove),
      unreachable: undefined,
      draining: remove,
    });
    this.logBlock(log, st, result);
  }

  /**
   * status.autoscaler: it changes only when the decision does (no ticking clock), so a steady cluster
   * costs no writes.
   */
  private statusOf(
    rc: RayCluster,
    result: StepOk,
    targets: Record<string, number>,
    removed: string[],
  ): NonNullable<RayClusterStatus["autoscaler"]> {
    const nodeRequests = Object.fromEntries(Object.entries(result.create).filter(([, n]) => n > 0));
    const body = {
      targetWorkers: targets,
      nodeRequests,
      infeasible: result.infeasible,
      removed,
      message: result.decision.notes.join("; "),
    };
    const prev = rc.status?.autoscaler;
    // canonicalJson drops undefined keys: compare everything but the time itself.
    const same = prev && canonicalJson({ ...prev, lastUpdateTime: undefined }) === canonicalJson(body);
    return {
      lastUpdateTime:
        same && prev?.lastUpdateTime ? prev.lastUpdateTime : new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      ...body,
    };
  }

  private logBlock(log: Logger, st: ClusterState, result: StepOk) {
    const key = canonicalJson({
      launch: result.create,
      remove: result.delete.map((d) => d.instanceId),
      infeasible: result.infeasible,
      nodes: result.input.nodes.length,
      pending: result.input.pendingLaunches,
    });
    const due = this.now() - st.lastLoggedAt > STATUS_BLOCK_EVERY_MS;
    if (key === st.lastLoggedKey && !due) {
      log.debug(result.statusLines.join("\n"));
      return;
    }
    st.lastLoggedKey = key;
    st.lastLoggedAt = this.now();
    log.info(result.statusLines.join("\n"));
  }
}
