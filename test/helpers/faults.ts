// What every fault test of test/faults/ needs (issue 13): seeded randomness, RayClusters on kwok
// nodes sized for scale, the operator process under its ServiceAccount, pods as the API server
// has them, convergence ("every RayCluster Ready, every expected pod present once"), the operator's
// counters, and the bookkeeping of one fault's run that ends as a row of the table.
import { strict as assert } from "assert";
import { writeFileSync } from "fs";
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { OperatorProcess } from "../../scripts/operator-process";
import { LABELS, RayCluster } from "../../api/v1/types";
import { Clients, clientsFromFile, eventually, sleep } from "./kube";
import { testCluster, testClusterAuditLog, testControlPlane } from "../support/cluster";
import { AuditLog } from "./faults-audit";
import { rayClusters } from "./operator-env";
import { edited, simulatedCluster } from "./examples";
import { FaultRow, recordFault } from "./faults-report";

// ---- Seeded randomness: every random choice of a fault test comes from here ----

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: small, fast, and the same sequence on every machine for a seed. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/** The seed of a test: FAULT_SEED when set, else the test's own default; printed so a run can be replayed. */
export function faultSeed(test: string, fallback: number): number {
  const seed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : fallback;
  if (!Number.isInteger(seed)) throw new Error(`FAULT_SEED must be an integer, got ${process.env.FAULT_SEED}`);
  console.error(`      [faults] ${test}: seed ${seed} (FAULT_SEED=${seed} replays this run's choices)`);
  return seed;
}

// ---- RayClusters on the simulated nodes ----

/**
 * example-cluster2 as `name`, with exactly `workers` workers (minWorkers = maxWorkers), its pods on
 * kwok nodes and named after the cluster (`<name>-ray-head-xxxxx`), so the audit log's pod names say
 * which cluster a delete was for.
 */
export function kwokCluster(ns: string, name: string, workers: number): RayCluster {
  return edited(simulatedCluster("example-cluster2", ns), (r: RayCluster) => {
    r.metadata.name = name;
    r.spec.maxWorkers = workers;
    Object.assign(r.spec.podTypes[1], { minWorkers: workers, maxWorkers: workers });
    for (const t of r.spec.podTypes) delete t.podConfig.metadata?.generateName;
  });
}

/** Sets a cluster's worker count (minWorkers = maxWorkers = spec.maxWorkers = `workers`). */
export async function setWorkers(c: Clients, ns: string, name: string, workers: number): Promise<void> {
  await eventually(`${name} set to ${workers} workers`, async () => {
    const rc = (await rayClusters(c, ns).get(name)) as RayCluster;
    rc.spec.maxWorkers = workers;
    Object.assign(rc.spec.podTypes[1], { minWorkers: workers, maxWorkers: workers });
    await rayClusters(c, ns).replace(rc);
    return true;
  });
}

// ---- Pods as the API server has them ----

export interface PodLite {
  name: string;
  uid: string;
  cluster: string;
  kind: string;
  type: string;
  phase: string;
  ready: boolean;
  terminating: boolean;
  /** Scheduled nowhere and told so by the scheduler (no node fits it). */
  unschedulable: boolean;
  /** The node it is bound to, and since when (ms since the epoch), if it is. */
  node?: string;
  boundAt?: number;
}

export function lite(p: V1Pod): PodLite {
  const labels = p.metadata?.labels ?? {};
  const conditions = p.status?.conditions ?? [];
  const scheduled = conditions.find((x) => x.type === "PodScheduled" && x.status === "True");
  return {
    name: p.metadata?.name ?? "",
    uid: p.metadata?.uid ?? "",
    cluster: labels[LABELS.clusterName] ?? "",
    kind: labels[LABELS.nodeType] ?? "",
    type: labels[LABELS.userNodeType] ?? "",
    phase: p.status?.phase ?? "",
    ready: conditions.some((x) => x.type === "Ready" && x.status === "True"),
    terminating: !!p.metadata?.deletionTimestamp,
    unschedulable: conditions.some((x) => x.type === "PodScheduled" && x.reason === "Unschedulable"),
    node: p.spec?.nodeName,
    boundAt: scheduled?.lastTransitionTime ? new Date(scheduled.lastTransitionTime).getTime() : undefined,
  };
}

/** Every pod of a RayCluster in `ns`, terminating ones included. */
export async function podsIn(c: Clients, ns: string): Promise<PodLite[]> {
  const list = await c.core.listNamespacedPod({ namespace: ns, labelSelector: LABELS.clusterName });
  return list.items.map(lite);
}

export const uids = (pods: PodLite[]) => new Set(pods.map((p) => p.uid));

/** How many of `before` are no longer among `after` (same UID). */
export const missing = (before: PodLite[], after: PodLite[]) => {
  const now = uids(after);
  return before.filter((p) => !now.has(p.uid));
};

// ---- Convergence ----

/** Workers wanted per cluster. */
export type Want = Record<string, number>;

export interface ClusterView {
  name: string;
  ready: boolean;
  current: boolean;
  heads: number;
  workers: number;
  notReadyPods: number;
  terminating: number;
}

const condition = (rc: RayCluster, type: string) => rc.status?.conditions?.find((x) => x.type === type);

/** Each wanted cluster's status and pods, as one line each for a failure message. */
export async function clusterViews(c: Clients, ns: string, want: Want): Promise<ClusterView[]> {
  const pods = await podsIn(c, ns);
  const views: ClusterView[] = [];
  for (const name of Object.keys(want)) {
    const rc = (await rayClusters(c, ns).get(name)) as RayCluster;
    const mine = pods.filter((p) => p.cluster === name);
    const live = mine.filter((p) => !p.terminating);
    views.push({
      name,
      ready: condition(rc, "Ready")?.status === "True",
      current: rc.status?.observedGeneration === rc.metadata.generation,
      heads: live.filter((p) => p.kind === "head").length,
      workers: live.filter((p) => p.kind === "worker").length,
      notReadyPods: live.filter((p) => !(p.phase === "Running" && p.ready)).length,
      terminating: mine.length - live.length,
    });
  }
  return views;
}

const settled = (v: ClusterView, workers: number) =>
  v.ready && v.current && v.heads === 1 && v.workers === workers && v.notReadyPods === 0 && v.terminating === 0;

export const showViews = (views: ClusterView[], want: Want) =>
  views
    .filter((v) => !settled(v, want[v.name]))
    .map(
      (v) =>
        `${v.name}: Ready=${v.ready} observed=${v.current} heads=${v.heads} workers=${v.workers}/${want[v.name]} ` +
        `notReady=${v.notReadyPods} terminating=${v.terminating}`,
    )
    .join("; ");

/** A pod bound to a kwok node that kwok has not started for this long is one it dropped. */
const KWOK_STUCK_MS = 8_000;

/**
 * kwok plays the kubelet of the simulated nodes, and unlike a kubelet it does not retry: a status
 * patch that failed while the control plane was down is never made again, and the pod stays Pending
 * on its node forever (seen after an etcd restart: "failed to apply stage ... failed to patch pod").
 * A kubelet would resync it; an annotation wakes kwok up to do the same. Returns how many it woke.
 */
export async function wakeKwok(c: Clients, ns: string, pods: PodLite[]): Promise<number> {
  const stuck = pods.filter(
    (p) =>
      p.phase === "Pending" &&
      !p.terminating &&
      p.node?.startsWith("kwok-") &&
      p.boundAt !== undefined &&
      Date.now() - p.boundAt > KWOK_STUCK_MS,
  );
  const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  for (const p of stuck) {
    const body = { metadata: { annotations: { "faults.test/kwok-resync": String(Date.now()) } } };
    await c.core.patchNamespacedPod({ name: p.name, namespace: ns, body }, mergePatch).catch(() => undefined);
  }
  if (stuck.length) console.error(`      [faults] woke kwok for ${stuck.length} pods: ${stuck.map((p) => p.name)}`);
  return stuck.length;
}

/**
 * Waits until every cluster of `want` reports Ready for its current generation with exactly one
 * head and its workers, all Running and Ready, and none of its pods terminating. Resolves with the
 * time it took, or undefined (with the state it was stuck in) on timeout: a run that never converges
 * is a finding to record, not an exception that loses the row.
 */
export async function converge(
  c: Clients,
  ns: string,
  want: Want,
  timeoutMs: number,
  /** Called on each poll, e.g. to start again an operator replica that exited, as a kubelet would. */
  tick?: () => Promise<void>,
): Promise<{ ms?: number; stuck?: string }> {
  const started = Date.now();
  let last = "";
  while (Date.now() - started < timeoutMs) {
    try {
      await tick?.();
      const views = await clusterViews(c, ns, want);
      if (views.every((v) => settled(v, want[v.name]))) return { ms: Date.now() - started };
      last = showViews(views, want);
      await wakeKwok(c, ns, await podsIn(c, ns));
    } catch (e) {
      last = `(${(e as Error).message})`;
    }
    await sleep(500);
  }
  return { stuck: last };
}

// ---- The operator ----

export const operatorEnv = (ns: string, identity: string, env: Record<string, string> = {}) => ({
  RAY_OPERATOR_POD_NAMESPACE: ns,
  OPERATOR_NAMESPACE: ns,
  POD_NAME: identity,
  // No Ray runs on kwok's nodes: nothing for the autoscaler to ask.
  AUTOSCALER_INTERVAL_SECONDS: "0",
  ...env,
});

/**
 * The local control plane a fault test breaks: clients, its audit log and its etcd. Skips the test
 * (`ctx.skip()`) where there is none: with TEST_KUBECONFIG, faults are not injected into a cluster
 * that is not ours.
 */
export async function faultCluster(ctx: Mocha.Context): Promise<{ c: Clients; audit: AuditLog; etcdUrl: string }> {
  const cluster = await testCluster();
  const log = testClusterAuditLog();
  const controlPlane = testControlPlane();
  if (!cluster.local || !log || !controlPlane) ctx.skip();
  return { c: clientsFromFile(cluster.kubeconfig), audit: new AuditLog(log!), etcdUrl: controlPlane!.etcdUrl };
}

/** Starts the operator as `identity` and waits until /readyz says so (a standby is ready too). */
export async function startOperator(
  kubeconfig: string,
  ns: string,
  identity: string,
  env: Record<string, string> = {},
): Promise<OperatorProcess> {
  const op = await new OperatorProcess(kubeconfig, operatorEnv(ns, identity, env)).start();
  await eventually(
    `operator ${identity} ready`,
    async () => op.running() && (await op.get("/readyz").catch(() => ({ status: 0 }))).status === 200,
    120_000,
    100,
  );
  return op;
}

/** The sum of a metric's samples whose labels include `labels`, from OperatorProcess.metrics(). */
export function metric(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, value] of samples) {
    const m = /^(\w+)(?:\{(.*)\})?$/.exec(key);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += value;
  }
  return sum;
}

/** Mutating API requests the operator made, by its own count (every answer code, 0 when none came). */
export const mutatingRequests = (samples: Map<string, number>) =>
  ["create", "update", "patch", "delete"].reduce(
    (sum, verb) => sum + metric(samples, "ray_operator_api_requests_total", { verb }),
    0,
  );

/**
 * The operator's counters against a witness of what took effect (the audit log, or etcd's history
 * when the API server itself was killed), for one process that lived through the whole window. Its
 * count of pods created (deleted) must be its count of 201 (200) answers; and what took effect must
 * lie between what was answered so and that plus the requests whose outcome the operator could not
 * know: no answer at all (code 0: the connection died) or a 5xx (e.g. etcd timed out, yet the write
 * may land). Nothing else may differ: more than that is a write the operator did not make or count.
 */
export function countersAgree(
  /** The counters when the witness's window opened (empty for a process started after). */
  before: Map<string, number>,
  after: Map<string, number>,
  took: { creates: number; deletes: number },
  witness = "the audit log",
): string[] {
  const out: string[] = [];
  const delta = (name: string, labels: Record<string, string>) =>
    metric(after, name, labels) - metric(before, name, labels);
  const unknownOutcome = (verb: string) => {
    let n = delta("ray_operator_api_requests_total", { verb, resource: "pods", code: "0" });
    for (const code of ["500", "502", "503", "504"])
      n += delta("ray_operator_api_requests_total", { verb, resource: "pods", code });
    return n;
  };
  for (const [action, verb, ok, seen] of [
    ["create", "create", "201", took.creates],
    ["delete", "delete", "200", took.deletes],
  ] as const) {
    const counted = delta("ray_operator_pod_actions_total", { action });
    const answered = delta("ray_operator_api_requests_total", { verb, resource: "pods", code: ok });
    const unknown = unknownOutcome(verb);
    if (counted !== answered)
      out.push(`pod_actions_total{action=${action}} ${counted} != api_requests_total{${verb},pods,${ok}} ${answered}`);
    if (seen < counted || seen > counted + unknown)
      out.push(
        `the operator counted ${counted} pod ${action}s (${unknown} of unknown outcome), ${witness} has ${seen}`,
      );
  }
  return out;
}

// ---- One fault's run, ending as a row ----

export class FaultRun {
  injected = 0;
  podsLost = 0;
  duplicates = 0;
  replacedWhileStable = 0;
  convergeMs?: number;
  readonly failures: string[] = [];
  /** Operator logs to show when the run fails: name → log. */
  readonly logs = new Map<string, () => string>();
  private recorded = false;

  constructor(
    readonly fault: string,
    /** What one injection is, e.g. `SIGKILLs`. */
    readonly unit: string,
  ) {}

  /** Notes a failed check without stopping: every finding of a run goes into its report. */
  check(ok: boolean, failure: string): boolean {
    if (!ok) this.failures.push(failure);
    return ok;
  }

  /** Records the row; with an error when the run stopped before its checks (its logs are saved then). */
  record(error?: unknown, detail = ""): FaultRow {
    const row: FaultRow = {
      fault: this.fault,
      injected: `${this.injected} ${this.unit}${detail ? ` (${detail})` : ""}`,
      podsLost: this.podsLost,
      duplicates: this.duplicates,
      replacedWhileStable: this.replacedWhileStable,
      convergeMs: this.convergeMs,
      result: error
        ? `error: ${((error as Error).message ?? String(error)).split("\n")[0].slice(0, 100)}`
        : this.failures.length
          ? `FAIL (${this.failures.length}): ${this.failures[0].slice(0, 100)}`
          : "pass",
    };
    if (!this.recorded) recordFault(row);
    this.recorded = true;
    if (error) this.saveLogs();
    return row;
  }

  /** Writes the operators' logs to /tmp, for a run that failed (or any run when FAULT_LOGS is set). */
  private saveLogs(): void {
    const slug = this.fault.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
    for (const [name, log] of this.logs) {
      const file = `/tmp/faults-${slug}-${name}.log`;
      writeFileSync(file, log());
      console.error(`      [faults] ${name}'s log: ${file}`);
    }
  }

  /** Fails the test with every finding, after saving the operators' logs. */
  assertPassed(): void {
    if (this.failures.length || process.env.FAULT_LOGS) this.saveLogs();
    if (this.failures.length)
      assert.fail(`${this.fault}: ${this.failures.length} finding(s)\n- ${this.failures.join("\n- ")}`);
  }
}
