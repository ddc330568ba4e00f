// npm run bench: how fast the operator converges, how far it scales, what it costs, beside KubeRay. On a
// control plane of its own with enough kwok capacity; the operator is the compiled process, under its
// ServiceAccount. Every figure is the median of several runs (min and max beside it), and the time
// figures are ratios to a baseline measured in the same run:
//   1. convergence: 100 RayClusters of 1 head + 9 workers at once, until all Ready, against a floor
//      that creates the same 1,000 pods directly with the same client and concurrency (the mean of
//      the floor runs just before and just after);
//   2. KubeRay (v1.5.0, built from the Go module proxy by scripts/toolchain/kuberay.sh) on the same
//      workload in the same rounds, once with this operator's client settings and once with its own
//      defaults: time to all pods Running+Ready (paired, round by round), memory idle and at 1,000
//      pods, CPU, requests and events per pod (kuberay.ts; BENCH_PEER=none skips it);
//   3. isolation: a small cluster's time to Ready while another scales 0 -> 500 workers, against
//      the same small cluster alone;
//   4. memory: operator RSS and heap at 0, 100 and 1,000 pods;
//   5. quiet: API writes in 60 s at steady state with 1,000 pods;
//   6. API economy: requests per created pod during convergence;
//   7. BENCH_SCALE=<pods> (e.g. 10000): the same at that many pods, against the floor and KubeRay.
// Writes bench/results/<date>[-<settings>].json and ends with one machine-readable line per target.
import { appendFileSync, mkdirSync, writeFileSync } from "fs";
import { cpus, totalmem } from "os";
import { join } from "path";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, stopControlPlane, ControlPlaneState } from "../../scripts/cluster/control-plane";
import {
  OperatorProcess,
  serviceAccountToken,
  writeKubeconfigWithToken,
  buildOperator,
} from "../../scripts/operator-process";
import { ApiError, KubeRest, RequestOptions, isAlreadyExists, isNotFound } from "../../operator/kube/rest";
import { connectionOf } from "../../scripts/kube-connection";
import { Informer, KubeObject, Stored } from "../../operator/kube/informer";
import { createLogger } from "../../operator/util/log";
import { rayClusterCrd } from "../../api/v1/crd";
import { API_VERSION, CRD_NAME, GROUP, KIND, LABELS, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import type { Event, List, Pod, Service } from "../../api/v1/kube-types";
import { namespaceObject } from "../../builders/namespace";
import { rbacObjects, SERVICE_ACCOUNT } from "../../builders/rbac";
import { buildPod } from "../../builders/pod";
import { defaulted } from "../../api/v1/defaults";
import { summarize, fmtSummary, fmtRange, fmt, Summary } from "./stats";
import { benchPodSpec, scaleShape } from "./workload";
import { cpuSecondsOf, rssMb } from "./proc";
import {
  KUBERAY_CLUSTER_LABEL,
  KUBERAY_RAYCLUSTERS,
  KUBERAY_VERSION,
  KubeRayCluster,
  KubeRayProcess,
  KubeRaySettings,
  installKubeRay,
  kubeRayBenchCluster,
  kubeRayClusterReady,
  kubeRayToolchain,
} from "./kuberay";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 100);
const WORKERS_PER_CLUSTER = 9;
const BIG_WORKERS = Number(process.env.BENCH_BIG_WORKERS ?? 500);
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 60);
// BENCH_ONLY=convergence|isolation|scale: one part only (a quick look while profiling; the report then
// lacks the others).
const ONLY = process.env.BENCH_ONLY;
// BENCH_PEER=none: this operator alone; by default KubeRay is measured in every convergence round.
const PEER = process.env.BENCH_PEER ?? "kuberay";
// BENCH_SCALE=<pods>: also converge that many pods (workload.ts's scaleShape: 10000 -> 1,000 clusters of
// 1 + 9), BENCH_SCALE_RUNS times (default 1: a run at 10,000 pods takes a quarter of an hour here).
const SCALE = process.env.BENCH_SCALE ? Number(process.env.BENCH_SCALE) : undefined;
const SCALE_RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 1);
// BENCH_PROFILE=<dir>: the operator writes a V8 CPU profile there each time it stops (open in Chrome DevTools).
const PROFILE_DIR = process.env.BENCH_PROFILE;
// BENCH_OPERATOR_LOG=<file>: the operator logs at info level and each operator's log is appended there.
const OPERATOR_LOG = process.env.BENCH_OPERATOR_LOG;
// BENCH_BASELINE=<file>: another build of the operator (e.g. main's `dist/operator/main.js`, run with
// BENCH_BASELINE_NODE_ARGS, default `--enable-source-maps`), measured in every convergence run right
// after this one, on the same control plane: its RSS idle and at 1,000 pods and its convergence time.
const BASELINE = process.env.BENCH_BASELINE;
const BASELINE_NODE_ARGS = (process.env.BENCH_BASELINE_NODE_ARGS ?? "--enable-source-maps")
  .split(/\s+/)
  .filter(Boolean);
// The operator and the floor use the same client settings: the API server, not a client limit, is the bound.
const QPS = 200;
const BURST = 400;
const RECONCILE_WORKERS = 10;
const ROOT = join(__dirname, "..", "..");
const STATE_DIR = join(ROOT, ".bench-cluster");

if (PEER !== "kuberay" && PEER !== "none") throw new Error(`BENCH_PEER=${PEER}: kuberay (the default) or none`);
if (SCALE !== undefined && !(SCALE >= 10)) throw new Error(`BENCH_SCALE=${process.env.BENCH_SCALE}: a pod count`);

/** KubeRay given this operator's client settings: the fair comparison. */
const KUBERAY_EQUAL: KubeRaySettings = {
  name: "kuberay",
  qps: QPS,
  burst: BURST,
  reconcileConcurrency: RECONCILE_WORKERS,
};
/** KubeRay as installed: 1 reconcile at a time, QPS 100, burst 200 (its flags' defaults). */
const KUBERAY_DEFAULTS: KubeRaySettings = { name: "kuberay-defaults" };

// The simulated nodes: 8, as always (the scheduler's work per pod does not change with BENCH_SCALE),
// with room for the largest run and a quarter more; the control plane's defaults, which the tests
// rely on, are not touched (these are options of this start).
const NODE_COUNT = 8;
const PODS_PER_NODE = Math.max(400, Math.ceil(((SCALE ?? 0) * 1.25) / NODE_COUNT));

/** The operator's event source, by operator (ours: operator/main.ts; KubeRay's RayCluster controller). */
const EVENT_SOURCE = { ours: "ray-operator", kuberay: "raycluster-controller" } as const;

const log = (l: string) => console.error(`[bench] ${l}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Time limits that grow with the pods a step handles (10 min at 1,000 pods; 30 min at 10,000). */
const timeoutFor = (pods: number) => Math.max(600_000, pods * 180);

/** A small RayCluster: the seed's example shape with modest requests, 1 head + `workers` workers. */
function benchCluster(name: string, namespace: string, workers: number, maxWorkers = workers): RayCluster {
  const pod = (kind: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: `${name}-ray-${kind}-` },
    // On the simulated nodes: the benchmark measures the operator and the control plane at scale.
    spec: benchPodSpec(),
  });
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: {
      maxWorkers,
      headPodType: "head-node",
      podTypes: [
        { name: "head-node", podConfig: pod("head") },
        {
          name: "worker-nodes",
          minWorkers: workers,
          maxWorkers,
          rayResources: { Custom1: 1 },
          podConfig: pod("worker"),
        },
      ],
    },
  };
}

/** What the API server says about a CRD, the part the benchmark waits on. */
interface CrdStatus {
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** One operator's convergence: create the clusters, then until all pods are Ready and all clusters say so. */
interface Convergence {
  /** First create to all pods Running and Ready (the figure both operators are paired on). */
  podsReadySeconds: number;
  /** First create to every cluster Ready in the operator's own status. */
  clustersReadySeconds: number;
  /** The operator's VmRSS the instant the last pod was seen Ready. */
  rssAtPodsReadyMb: number;
  /** The operator's CPU seconds from the first create until all pods were Ready. */
  operatorCpuToPodsReady: number;
  /** Every process's CPU seconds from the first create until all clusters were Ready. */
  cpuByProcess: Record<string, number>;
}

/** One operator's figures in one round (this operator's and KubeRay's are the same figures). */
interface Leg extends Convergence {
  /** VmRSS 1 s after the operator was ready to reconcile, before the first cluster. */
  idleRssMb: number;
  /**
   * Requests its clients sent from the first create until it stopped writing after all clusters were
   * Ready (see `settled`), per pod.
   */
  requestsPerPod: number;
  requestsByKind: Record<string, number>;
  /** Event objects the operator wrote in the namespace, per pod (they are part of the requests too). */
  eventsPerPod: number;
  /** API writes in QUIET_SECONDS at steady state (when measured). */
  quietWrites?: number;
}

type LegName = "ours" | "kuberay" | "kuberay-defaults";

/** CPU seconds by process, and their total. */
function fmtCpu(c: Record<string, number>): string {
  const total = Object.values(c).reduce((x, y) => x + y, 0);
  return `${Object.entries(c)
    .map(([k, v]) => `${k} ${fmt(v, 1)}`)
    .join(", ")} (total ${fmt(total, 1)})`;
}

/** The leg's last lines, the same for either operator. */
function logLeg(label: string, l: Leg, pods: number): void {
  log(
    `${label}: all ${pods} pods Ready in ${fmt(l.podsReadySeconds)} s, clusters Ready in ` +
      `${fmt(l.clustersReadySeconds)} s; operator CPU ${fmt(l.operatorCpuToPodsReady, 1)} s; RSS idle ` +
      `${fmt(l.idleRssMb, 1)} MB, at ${pods} pods ${fmt(l.rssAtPodsReadyMb, 1)} MB; ` +
      `${fmt(l.requestsPerPod)} requests/pod (${Object.entries(l.requestsByKind)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(", ")}), ${fmt(l.eventsPerPod)} events/pod` +
      (l.quietWrites === undefined ? "" : `; ${l.quietWrites} API writes in ${QUIET_SECONDS} s at steady state`),
  );
}

/** Writes, as each operator's request metrics name them (this one's by verb, client-go's by HTTP method). */
const OUR_WRITES = ["create", "update", "patch", "delete"];
const PEER_WRITES = ["POST", "PUT", "PATCH", "DELETE"];

/**
 * An operator's metrics once it has stopped writing (no write for 2 s; at most a minute): what it still
 * sends after its clusters are Ready belongs to their convergence too. KubeRay's event recorder sends
 * from a queue of its own, a second or more behind the pods it reports; stopped at Ready, it lost
 * three events in four of a run at this operator's settings.
 */
async function settled(
  read: () => Promise<Map<string, number>>,
  writes: (m: Map<string, number>) => number,
): Promise<Map<string, number>> {
  let last = await read();
  let stillSince = Date.now();
  const deadline = stillSince + 60_000;
  while (Date.now() < deadline) {
    await sleep(500);
    const now = await read();
    if (writes(now) !== writes(last)) stillSince = Date.now();
    last = now;
    if (Date.now() - stillSince >= 2000) break;
  }
  return last;
}

class Bench {
  state!: ControlPlaneState;
  kc = new k8s.KubeConfig();
  admin!: KubeRest;
  op?: OperatorProcess;
  peer?: KubeRayProcess;
  peerBinary = "";
  peerKubeconfig = "";
  saKubeconfig = "";
  ns = "bench";

  async setup() {
    // KubeRay first: a build takes minutes and would leave the control plane idle meanwhile. Not for
    // the isolation part alone, which measures only this operator.
    const toolchain = PEER === "kuberay" && ONLY !== "isolation" ? kubeRayToolchain(log) : undefined;
    this.state = await startControlPlane({
      stateDir: STATE_DIR,
      nodes: { count: NODE_COUNT, cpu: "512", memory: "2Ti", pods: PODS_PER_NODE },
      log,
    });
    this.kc.loadFromFile(this.state.kubeconfig);
    this.admin = await KubeRest.create(await connectionOf(this.kc), { qps: 1000, burst: 2000 });
    const apply = async (path: string, obj: unknown) => {
      try {
        await this.admin.create(path, obj);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    };
    await apply("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", rayClusterCrd());
    for (;;) {
      const crd = await this.admin.get<CrdStatus>(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`,
      );
      if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      await sleep(200);
    }
    await apply("/api/v1/namespaces", namespaceObject(this.ns, "baseline"));
    for (const o of rbacObjects(this.ns, "namespace")) {
      const path =
        o.kind === "ServiceAccount"
          ? `/api/v1/namespaces/${this.ns}/serviceaccounts`
          : `/apis/rbac.authorization.k8s.io/v1/namespaces/${this.ns}/${o.kind === "Role" ? "roles" : "rolebindings"}`;
      await apply(path, o);
    }
    this.saKubeconfig = writeKubeconfigWithToken(
      this.kc,
      await serviceAccountToken(this.kc, this.ns, SERVICE_ACCOUNT),
      this.ns,
    );
    if (toolchain) {
      this.peerBinary = toolchain.binary;
      this.peerKubeconfig = await installKubeRay(this.admin, this.kc, this.ns, toolchain);
    }
    buildOperator();
  }

  async stopOperator() {
    await this.op?.stop();
    if (this.op && OPERATOR_LOG) appendFileSync(OPERATOR_LOG, this.op.logs());
    this.op = undefined;
  }

  async startOperator(entry?: { main: string; nodeArgs: string[] }) {
    await this.stopPeer();
    await this.stopOperator();
    this.op = await new OperatorProcess(
      this.saKubeconfig,
      {
        RAY_OPERATOR_POD_NAMESPACE: this.ns,
        OPERATOR_NAMESPACE: this.ns,
        POD_NAME: "bench-operator",
        RECONCILE_WORKERS: String(RECONCILE_WORKERS),
        KUBE_API_QPS: String(QPS),
        KUBE_API_BURST: String(BURST),
        // No Ray runs on simulated nodes: measure the reconcile loop alone.
        AUTOSCALER_INTERVAL_SECONDS: "0",
        LOG_LEVEL: OPERATOR_LOG ? "info" : "warn",
      },
      PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
      entry,
    ).start();
    for (let i = 0; i < 200; i++) {
      if ((await this.op.get("/readyz").catch(() => ({ status: 0 }))).status === 200) return;
      await sleep(100);
    }
    throw new Error("operator not ready");
  }

  /** Starts KubeRay (this operator stopped: one operator at a time) and waits until it reconciles. */
  async startPeer(settings: KubeRaySettings, logName: string): Promise<KubeRayProcess> {
    await this.stopOperator();
    await this.stopPeer();
    const logFile = join(STATE_DIR, `${logName}.log`);
    this.peer = await new KubeRayProcess(this.peerBinary, this.peerKubeconfig, this.ns, settings, logFile).start();
    await this.peer.waitReady();
    return this.peer;
  }

  async stopPeer() {
    await this.peer?.stop();
    this.peer = undefined;
  }

  /**
   * CPU seconds used so far by each control-plane process, the operator (this one's, or `operatorPid`)
   * and this script (from /proc).
   */
  cpuSeconds(operatorPid = this.op?.pid): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.state.pids)) out[name] = cpuSecondsOf(pid);
    out.operator = cpuSecondsOf(operatorPid);
    const self = process.cpuUsage();
    out.bench = (self.user + self.system) / 1e6;
    return out;
  }

  static cpuDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of Object.keys(b)) out[k] = Math.round((b[k] - (a[k] ?? 0)) * 100) / 100;
    return out;
  }

  metrics(): Promise<Map<string, number>> {
    return this.op!.metrics();
  }

  static requests(m: Map<string, number>, verbs?: string[]): number {
    let n = 0;
    for (const [k, v] of m) {
      if (!k.startsWith("ray_operator_api_requests_total{")) continue;
      const verb = /verb="([^"]+)"/.exec(k)?.[1] ?? "";
      if (!verbs || verbs.includes(verb)) n += v;
    }
    return n;
  }

  /** Requests per pod between two metric snapshots, by verb and resource. */
  static breakdown(before: Map<string, number>, after: Map<string, number>, pods: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of after) {
      if (!k.startsWith("ray_operator_api_requests_total{")) continue;
      const verb = /verb="([^"]+)"/.exec(k)?.[1];
      const resource = /resource="([^"]+)"/.exec(k)?.[1];
      const d = v - (before.get(k) ?? 0);
      if (d > 0) out[`${verb} ${resource}`] = (out[`${verb} ${resource}`] ?? 0) + d / pods;
    }
    return out;
  }

  async memory(): Promise<{ rssMb: number; heapMb: number }> {
    const m = await this.metrics();
    return {
      rssMb: (m.get("ray_operator_process_resident_memory_bytes") ?? NaN) / 2 ** 20,
      heapMb: (m.get("ray_operator_nodejs_heap_size_used_bytes") ?? NaN) / 2 ** 20,
    };
  }

  /**
   * Hands every object of `path` (as listed, then as watched, through the operator's own Informer)
   * to `see` until it returns true, `stop` aborts, or the time is up. Event-driven, so a figure of a
   * few hundred milliseconds is not rounded up to a poll interval, and cheap for the API server.
   */
  observe<T extends KubeObject>(
    path: string,
    labelSelector: string | undefined,
    see: (obj: T) => boolean,
    stop?: AbortSignal,
    timeoutMs = 600_000,
    keep?: (obj: T) => T,
  ): Promise<void> {
    const inf = new Informer<T>(this.admin, {
      name: `bench ${path}`,
      path,
      labelSelector,
      keep,
      log: createLogger("warn", log),
    });
    return new Promise<void>((resolve, reject) => {
      let over = false;
      const finish = (e?: Error) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        inf.stop();
        if (e) reject(e);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`timed out watching ${path}`)), timeoutMs);
      const check = (o: T) => {
        if (see(o)) finish();
      };
      inf.on({ add: check, update: (_, o) => check(o) });
      stop?.addEventListener("abort", () => finish());
      inf.start();
    });
  }

  async waitReady(names: string[], timeoutMs = 600_000): Promise<void> {
    const waiting = new Set(names);
    const ready = (rc: Stored<RayCluster>) =>
      !!rc.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") &&
      rc.status.observedGeneration === rc.metadata.generation;
    await this.observe<Stored<RayCluster>>(
      `/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`,
      undefined,
      (rc) => {
        if (ready(rc)) waiting.delete(rc.metadata.name);
        return waiting.size === 0;
      },
      undefined,
      timeoutMs,
    ).catch((e: Error) => Promise.reject(new Error(`${names.length} clusters not Ready: ${e.message}`)));
  }

  /** Resolves once every one of these KubeRay RayClusters says it is ready (kuberay.ts). */
  async waitPeerReady(names: string[], timeoutMs = 600_000): Promise<void> {
    const waiting = new Set(names);
    await this.observe<KubeRayCluster>(
      KUBERAY_RAYCLUSTERS(this.ns),
      undefined,
      (rc) => {
        if (kubeRayClusterReady(rc)) waiting.delete(rc.metadata.name);
        return waiting.size === 0;
      },
      undefined,
      timeoutMs,
    ).catch((e: Error) => Promise.reject(new Error(`${names.length} KubeRay clusters not ready: ${e.message}`)));
  }

  /**
   * Resolves once `expected` pods with label `selector` are Running and Ready (seen through a watch),
   * with the time and what `sample` read at that very instant (an operator's memory and CPU). Nothing
   * deletes a pod during a convergence, so a pod counted Ready stays counted unless it says otherwise.
   */
  podsReady<S>(
    selector: string,
    expected: number,
    sample: () => S,
    timeoutMs: number,
  ): Promise<{ at: number; sample: S }> {
    const ready = new Set<string>();
    let seen: { at: number; sample: S } | undefined;
    const isReady = (p: Stored<Pod>) =>
      p.status?.phase === "Running" && !!p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    return this.observe<Stored<Pod>>(
      `/api/v1/namespaces/${this.ns}/pods`,
      selector,
      (p) => {
        if (isReady(p)) ready.add(p.metadata.name);
        else ready.delete(p.metadata.name);
        if (ready.size >= expected && !seen) seen = { at: Date.now(), sample: sample() };
        return !!seen;
      },
      undefined,
      timeoutMs,
      // The watcher keeps only what it reads: at 10,000 pods it should not weigh on the machine.
      (p) => ({
        metadata: { name: p.metadata.name, namespace: p.metadata.namespace },
        status: { phase: p.status?.phase, conditions: p.status?.conditions?.filter((c) => c.type === "Ready") },
      }),
    ).then(
      () => seen!,
      (e: Error) => Promise.reject(new Error(`${expected} pods not Ready (${ready.size} are): ${e.message}`)),
    );
  }

  /**
   * One operator's convergence, measured the same way for each: watches on the pods and on the
   * clusters start, the clusters are created all at once, and it ends when both watches have seen all.
   */
  async converge(o: {
    operatorPid: number | undefined;
    podSelector: string;
    expectedPods: number;
    create: () => Promise<void>;
    clustersReady: () => Promise<void>;
    timeoutMs: number;
  }): Promise<Convergence> {
    const cpu0 = this.cpuSeconds(o.operatorPid);
    const started = Date.now();
    const pods = this.podsReady(
      o.podSelector,
      o.expectedPods,
      () => ({ rssMb: rssMb(o.operatorPid), cpu: cpuSecondsOf(o.operatorPid) }),
      o.timeoutMs,
    );
    const clusters = o.clustersReady().then(() => Date.now());
    const [, podsSeen, clustersAt] = await Promise.all([o.create(), pods, clusters]);
    return {
      podsReadySeconds: (podsSeen.at - started) / 1000,
      clustersReadySeconds: (clustersAt - started) / 1000,
      rssAtPodsReadyMb: podsSeen.sample.rssMb,
      operatorCpuToPodsReady: podsSeen.sample.cpu - cpu0.operator,
      cpuByProcess: Bench.cpuDelta(cpu0, this.cpuSeconds(o.operatorPid)),
    };
  }

  /** Records when a cluster's pods are first seen, scheduled and ready (from a watch); call the result to stop. */
  trace(cluster: string, t0: number): () => Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    const mark = (what: string) => {
      if (!seen.has(what)) seen.set(what, Date.now() - t0);
    };
    const ac = new AbortController();
    const watching = this.observe<Stored<Pod>>(
      `/api/v1/namespaces/${this.ns}/pods`,
      `${LABELS.clusterName}=${cluster}`,
      (p) => {
        const kind = p.metadata.labels?.[LABELS.nodeType];
        mark(`${kind} created`);
        if (p.spec?.nodeName) mark(`${kind} scheduled`);
        if (p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) mark(`${kind} ready`);
        return false;
      },
      ac.signal,
    );
    return async () => {
      ac.abort();
      await watching;
      return new Map([...seen].sort((a, b) => a[1] - b[1]));
    };
  }

  async createClusters(clusters: Array<RayCluster | KubeRayCluster>) {
    // All at once, as `kubectl apply -f` of a directory would.
    await Promise.all(
      clusters.map((rc) =>
        this.admin.create(
          rc.apiVersion === API_VERSION
            ? `/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`
            : KUBERAY_RAYCLUSTERS(this.ns),
          rc,
        ),
      ),
    );
  }

  /** Event objects in the namespace, by the component that reported them. */
  async eventsByComponent(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const events = await this.again("listing events", () =>
      this.admin.get<List<Event>>(`/api/v1/namespaces/${this.ns}/events`),
    );
    for (const e of events.items) {
      const by = e.reportingComponent || e.source?.component || "?";
      out[by] = (out[by] ?? 0) + 1;
    }
    return out;
  }

  /**
   * Deletes every RayCluster (this operator's and KubeRay's), every pod and Service, and the events
   * (each round counts its own), and waits for the namespace to be empty of pods.
   */
  async clean() {
    const collections = [
      `/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`,
      ...(this.peerKubeconfig ? [KUBERAY_RAYCLUSTERS(this.ns)] : []),
    ];
    for (const path of collections) await this.deleteCollection(path);
    await this.deleteCollection(`/api/v1/namespaces/${this.ns}/pods`, { gracePeriodSeconds: 0 });
    for (;;) {
      const left = await Promise.all(
        [`/api/v1/namespaces/${this.ns}/pods`, ...collections].map(
          async (path) =>
            (await this.again(`listing ${path}`, () => this.admin.get<List<KubeObject>>(path, { limit: 1 }))).items
              .length,
        ),
      );
      if (left.every((n) => n === 0)) break;
      await sleep(500);
    }
    const svcs = await this.again("listing services", () =>
      this.admin.get<List<Service>>(`/api/v1/namespaces/${this.ns}/services`),
    );
    await Promise.all(
      svcs.items.map((s) =>
        this.again(`deleting service ${s.metadata?.name}`, () =>
          this.admin
            .delete(`/api/v1/namespaces/${this.ns}/services/${s.metadata?.name}`)
            .catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))),
        ),
      ),
    );
    await this.deleteCollection(`/api/v1/namespaces/${this.ns}/events`);
  }

  /** A collection delete, asked again while it fails the way `again` retries. */
  private deleteCollection(path: string, query?: RequestOptions["query"]): Promise<unknown> {
    return this.again(`deleting ${path}`, () => this.admin.request("DELETE", path, { query, timeoutMs: 300_000 }));
  }

  /**
   * An idempotent request of the benchmark's own (a list, a delete), sent again when the API server
   * gave no answer. At 10,000 pods on this machine two things happen that do not at 1,000: a
   * collection delete outlasts the API server's own 60 s limit (it answers 504 and goes on deleting
   * in the background), and a keep-alive connection left idle through a minutes-long floor is
   * dropped as it is reused ("socket hang up"). Either failed the whole run after its figures.
   */
  private async again<T>(what: string, request: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const unanswered = (e instanceof ApiError && e.code === 504) || code === "ECONNRESET" || code === "EPIPE";
        if (!unanswered || attempt >= 20) throw e;
        log(`${what}: ${(e as Error).message} (attempt ${attempt}); again`);
        await sleep(1000);
      }
    }
  }

  /**
   * The floor: the same pods as `clusters` clusters of 1 head + `workers` workers, created directly with
   * the same client settings and concurrency, until Running.
   */
  async floor(clusters = CLUSTERS, workers = WORKERS_PER_CLUSTER): Promise<number> {
    const client = await KubeRest.create(await connectionOf(this.kc), { qps: QPS, burst: BURST });
    const pods: Pod[] = [];
    for (let i = 0; i < clusters; i++) {
      const rc: RayCluster = {
        ...benchCluster(`floor-${i}`, this.ns, workers),
        metadata: { name: `floor-${i}`, namespace: this.ns, uid: "none" },
      };
      for (const [type, kind, n] of [
        ["head-node", "head", 1],
        ["worker-nodes", "worker", workers],
      ] as const) {
        for (let j = 0; j < n; j++) {
          const p = buildPod(defaulted(rc), type, kind);
          delete p.metadata?.ownerReferences;
          pods.push(p);
        }
      }
    }
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: RECONCILE_WORKERS * 8 }, async () => {
        while (next < pods.length) {
          const p = pods[next++];
          await client.create(`/api/v1/namespaces/${this.ns}/pods`, p);
        }
      }),
    );
    // Watched, as the operator run's RayClusters are: both times end when the event arrives.
    const running = new Set<string>();
    await this.observe<Stored<Pod>>(
      `/api/v1/namespaces/${this.ns}/pods`,
      LABELS.clusterName,
      (p) => {
        if (p.status?.phase === "Running") running.add(p.metadata.name);
        return running.size === pods.length;
      },
      undefined,
      timeoutFor(pods.length),
    );
    const elapsed = (Date.now() - started) / 1000;
    client.close();
    return elapsed;
  }

  /**
   * This operator's convergence on a fresh process: idle memory, then `clusters` clusters at once to
   * Ready, requests and events per pod, and the writes of QUIET_SECONDS at steady state. Leaves it
   * running (the caller cleans up).
   */
  async ourConvergence(
    label: string,
    clusters: number,
    workers: number,
  ): Promise<{ leg: Leg; atReady: { rssMb: number; heapMb: number } }> {
    const pods = clusters * (1 + workers);
    await this.startOperator();
    await sleep(1000);
    const idleRssMb = rssMb(this.op?.pid);
    await sleep(500);
    const before = await this.metrics();
    const rcs = Array.from({ length: clusters }, (_, i) => benchCluster(`c-${i}`, this.ns, workers));
    const started = Date.now();
    const c = await this.converge({
      operatorPid: this.op?.pid,
      podSelector: LABELS.clusterName,
      expectedPods: pods,
      create: () => this.createClusters(rcs),
      clustersReady: () =>
        this.waitReady(
          rcs.map((rc) => rc.metadata.name!),
          timeoutFor(pods),
        ),
      timeoutMs: timeoutFor(pods),
    });
    // What the operator reports of itself right after all clusters are Ready (rss_mb_at_1000_pods, heap).
    const atReady = await this.memory();
    const after = await settled(
      () => this.metrics(),
      (m) => Bench.requests(m, OUR_WRITES),
    );
    log(`${label}: operator at ${pods} pods: heap ${fmt(atReady.heapMb, 1)} MB, RSS ${fmt(atReady.rssMb, 1)} MB`);
    log(`${label}: CPU seconds during convergence: ${fmtCpu(c.cpuByProcess)}`);
    // Where the time went: last pod created, last pod running, last cluster Ready (API timestamps, 1 s resolution).
    const podsNow = await this.again("listing pods", () =>
      this.admin.get<List<Pod>>(`/api/v1/namespaces/${this.ns}/pods`, { labelSelector: LABELS.clusterName }),
    );
    const created = (p: Pod) => Date.parse(p.metadata?.creationTimestamp ?? "");
    const lastCreated = Math.max(...podsNow.items.map(created));
    const lastRunning = Math.max(
      ...podsNow.items.map((p) =>
        Date.parse(p.status?.conditions?.find((x) => x.type === "Ready")?.lastTransitionTime ?? "0"),
      ),
    );
    const perSecond = new Map<number, number>();
    for (const p of podsNow.items) {
      const sec = Math.floor((created(p) - Math.floor(started / 1000) * 1000) / 1000);
      perSecond.set(sec, (perSecond.get(sec) ?? 0) + 1);
    }
    log(
      `${label}: pods created per second: ${[...perSecond]
        .sort((x, y) => x[0] - y[0])
        .map(([k, v]) => `+${k}s ${v}`)
        .join(", ")}`,
    );
    log(
      `${label}: last pod created at +${fmt((lastCreated - started) / 1000, 1)} s, ` +
        `last pod ready at +${fmt((lastRunning - started) / 1000, 1)} s, ` +
        `all clusters Ready at +${fmt(c.clustersReadySeconds, 1)} s (timestamps to the second)`,
    );
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    const latency = (verb: string) => {
      const n = delta(`ray_operator_api_request_duration_seconds_count{verb="${verb}"}`);
      return n ? (delta(`ray_operator_api_request_duration_seconds_sum{verb="${verb}"}`) / n) * 1000 : NaN;
    };
    const reconciles = delta("ray_operator_reconcile_duration_seconds_count");
    const reconcileMs = (delta("ray_operator_reconcile_duration_seconds_sum") / reconciles) * 1000;
    log(`${label}: ${reconciles} reconciles, mean ${fmt(reconcileMs, 0)} ms`);
    log(`${label}: mean API latency: create ${fmt(latency("create"), 0)} ms, patch ${fmt(latency("patch"), 0)} ms`);
    const leg: Leg = {
      ...c,
      idleRssMb,
      requestsPerPod: (Bench.requests(after) - Bench.requests(before)) / pods,
      requestsByKind: Bench.breakdown(before, after, pods),
      eventsPerPod: 0,
    };
    // Quiet at steady state: writes over QUIET_SECONDS.
    await sleep(2000);
    const writes = ["create", "update", "patch", "delete"];
    const q0 = Bench.requests(await this.metrics(), writes);
    await sleep(QUIET_SECONDS * 1000);
    leg.quietWrites = Bench.requests(await this.metrics(), writes) - q0;
    const events = await this.eventsByComponent();
    leg.eventsPerPod = (events[EVENT_SOURCE.ours] ?? 0) / pods;
    log(`${label}: events by component: ${JSON.stringify(events)}`);
    return { leg, atReady };
  }

  /**
   * KubeRay's convergence, the same steps as ourConvergence's on a fresh process (`quietSeconds` 0:
   * no steady-state wait), then KubeRay stopped and the namespace cleaned.
   */
  async peerConvergence(
    label: string,
    settings: KubeRaySettings,
    clusters: number,
    workers: number,
    quietSeconds: number,
  ): Promise<Leg> {
    const pods = clusters * (1 + workers);
    const kr = await this.startPeer(settings, label.replace(/[^a-z0-9-]+/gi, "-"));
    await sleep(1000);
    const idleRssMb = rssMb(kr.pid);
    await sleep(500);
    const before = await kr.metrics();
    const rcs = Array.from({ length: clusters }, (_, i) => kubeRayBenchCluster(`kr-${i}`, this.ns, workers));
    const c = await this.converge({
      operatorPid: kr.pid,
      podSelector: KUBERAY_CLUSTER_LABEL,
      expectedPods: pods,
      create: () => this.createClusters(rcs),
      clustersReady: () =>
        this.waitPeerReady(
          rcs.map((rc) => rc.metadata.name),
          timeoutFor(pods),
        ),
      timeoutMs: timeoutFor(pods),
    });
    const after = await settled(
      () => kr.metrics(),
      (m) => KubeRayProcess.requests(m, PEER_WRITES),
    );
    log(`${label}: CPU seconds during convergence: ${fmtCpu(c.cpuByProcess)}`);
    const reconciles = [...after]
      .filter(([k]) => k.startsWith("controller_runtime_reconcile_total{") && k.includes('controller="raycluster'))
      .reduce((n, [k, v]) => n + v - (before.get(k) ?? 0), 0);
    log(
      `${label}: ${reconciles} RayCluster reconciles; Go heap in use at the end ` +
        `${fmt((after.get("go_memstats_heap_inuse_bytes") ?? NaN) / 2 ** 20, 1)} MB`,
    );
    const leg: Leg = {
      ...c,
      idleRssMb,
      requestsPerPod: (KubeRayProcess.requests(after) - KubeRayProcess.requests(before)) / pods,
      requestsByKind: KubeRayProcess.breakdown(before, after, pods),
      eventsPerPod: 0,
    };
    if (quietSeconds > 0) {
      await sleep(2000);
      const q0 = KubeRayProcess.requests(await kr.metrics(), PEER_WRITES);
      await sleep(quietSeconds * 1000);
      leg.quietWrites = KubeRayProcess.requests(await kr.metrics(), PEER_WRITES) - q0;
    }
    // Its events were sent by now (see settled); stopped before they are counted all the same.
    await this.stopPeer();
    const events = await this.eventsByComponent();
    leg.eventsPerPod = (events[EVENT_SOURCE.kuberay] ?? 0) / pods;
    log(`${label}: events by component: ${JSON.stringify(events)}`);
    await this.clean();
    logLeg(label, leg, pods);
    return leg;
  }

  async stop() {
    await this.stopPeer();
    await this.stopOperator();
    this.admin?.close();
    if (this.state) stopControlPlane(this.state);
  }
}

/** Each round's figure of `a` over `b`'s in the same round, then the median of those ratios. */
function pairedRatio(a: number[], bs: number[]): Summary {
  return summarize(a.map((x, i) => x / bs[i]));
}
/** The figures compared, each for every leg: name, how to read it, digits. */
const figures: Array<[string, (l: Leg, floor: number, pods: number) => number, number]> = [
  ["all pods Running+Ready (s)", (l) => l.podsReadySeconds, 2],
  ["  / floor of the same round", (l, floor) => l.podsReadySeconds / floor, 2],
  ["all clusters Ready, own status (s)", (l) => l.clustersReadySeconds, 2],
  ["operator CPU s, create to pods Ready", (l) => l.operatorCpuToPodsReady, 2],
  ["requests per pod", (l) => l.requestsPerPod, 2],
  ["  of which Event objects per pod", (l) => l.eventsPerPod, 2],
  ["RSS idle (MB)", (l) => l.idleRssMb, 1],
  ["RSS at all pods Ready (MB)", (l) => l.rssAtPodsReadyMb, 1],
  ["RSS growth per 1,000 pods (MB)", (l, _, pods) => ((l.rssAtPodsReadyMb - l.idleRssMb) / pods) * 1000, 1],
  [`API writes in ${QUIET_SECONDS} s, steady`, (l) => l.quietWrites ?? NaN, 0],
];

/** The comparison of each leg's figures, round by round, with the ratios of each to the first. */
function comparison(
  byLeg: Partial<Record<LegName, Leg[]>>,
  floorsOfRounds: number[],
  pods: number,
): Record<string, Record<string, Summary>> {
  const names = Object.keys(byLeg) as LegName[];
  const out: Record<string, Record<string, Summary>> = {};
  for (const [figure, read] of figures) {
    const values = (n: LegName) => (byLeg[n] ?? []).map((l, i) => read(l, floorsOfRounds[i], pods));
    if (values(names[0]).every((v) => !Number.isFinite(v))) continue;
    out[figure] = {};
    for (const n of names) out[figure][n] = summarize(values(n));
    for (const n of names.slice(1)) out[figure][`ours / ${n}`] = pairedRatio(values(names[0]), values(n));
  }
  return out;
}

/** The comparison as a table: each operator's figure, then each ratio to ours. */
function printComparison(
  title: string,
  table: Record<string, Record<string, Summary>>,
  names: string[],
  rounds: number,
): void {
  // A figure one operator was not measured on (KubeRay's quiet minute at 1,000 pods) stays blank.
  const shown = (x: Summary | undefined) => !!x && Number.isFinite(x.median);
  const digitsOf = (figure: string) => figures.find(([f]) => f === figure)?.[2] ?? 2;
  const columns = names.flatMap((n, i) => (i === 0 ? [n] : [n, `ours / ${n}`]));
  console.log(`\n${title}: median (min-max) over ${rounds} round(s); ratios taken round by round`);
  console.log(`${"figure".padEnd(38)} ${columns.map((c) => c.padEnd(24)).join(" ")}`);
  for (const [figure, row] of Object.entries(table))
    console.log(
      `${figure.padEnd(38)} ${columns
        .map((c) => (shown(row[c]) ? fmtRange(row[c], c.includes("/") ? 2 : digitsOf(figure)) : "").padEnd(24))
        .join(" ")}`,
    );
}

/** The date, and the settings that differ from a default run: a small or partial run does not overwrite a full one. */
function resultsName(date: string): string {
  const tags = [
    ONLY ? `only-${ONLY}` : "",
    RUNS !== 3 ? `runs${RUNS}` : "",
    CLUSTERS !== 100 ? `clusters${CLUSTERS}` : "",
    PEER === "none" ? "no-peer" : "",
    SCALE ? `scale${SCALE}` : "",
    BASELINE ? "baseline" : "",
  ].filter(Boolean);
  return [date.slice(0, 10), ...tags].join("-");
}

async function main() {
  const b = new Bench();
  const results: Record<string, unknown> & { date: string; machine: Record<string, unknown> } = {
    date: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    settings: {
      runs: RUNS,
      clusters: CLUSTERS,
      workersPerCluster: WORKERS_PER_CLUSTER,
      bigWorkers: BIG_WORKERS,
      qps: QPS,
      burst: BURST,
      reconcileWorkers: RECONCILE_WORKERS,
      quietSeconds: QUIET_SECONDS,
      peer:
        PEER === "kuberay" ? { kuberay: KUBERAY_VERSION, equal: KUBERAY_EQUAL, defaults: KUBERAY_DEFAULTS } : "none",
      scale: SCALE ? { pods: SCALE, ...scaleShape(SCALE), runs: SCALE_RUNS } : undefined,
      kwokNodes: { count: NODE_COUNT, podsPerNode: PODS_PER_NODE },
    },
  };
  try {
    await b.setup();
    const conv: number[] = [];
    const floors: number[] = [];
    const ratios: number[] = [];
    const perPod: number[] = [];
    const rss0: number[] = [];
    const rss100: number[] = [];
    const rss1000: number[] = [];
    const heap0: number[] = [];
    const heap100: number[] = [];
    const heap1000: number[] = [];
    const quiet: number[] = [];
    const baseline = {
      rss0: [] as number[],
      rss1000: [] as number[],
      heap1000: [] as number[],
      conv: [] as number[],
      /** The baseline operator's CPU seconds during its convergence. */
      cpu: [] as number[],
    };
    let breakdown: Record<string, number> = {};
    const cpu = { floor: [] as Record<string, number>[], convergence: [] as Record<string, number>[] };
    /** Each operator's figures, round by round (index = round - 1), for the paired comparison. */
    const legs: Record<LegName, Leg[]> = { ours: [], kuberay: [], "kuberay-defaults": [] };
    /** The mean of the floors on either side of each round. */
    const roundFloors: number[] = [];
    const totalPods = CLUSTERS * (1 + WORKERS_PER_CLUSTER);

    // The floor runs before the first convergence and after each round, on an idle API server (no
    // operator): each convergence is compared with the mean of the floors on either side of it, so
    // a machine that drifts faster or slower during the run moves both sides of the ratio.
    const runFloor = async (label: string, into: number[], clusters = CLUSTERS, workers = WORKERS_PER_CLUSTER) => {
      await b.stopOperator();
      await b.stopPeer();
      const pods = clusters * (1 + workers);
      const cpuFloor0 = b.cpuSeconds();
      const f = await b.floor(clusters, workers);
      into.push(f);
      cpu.floor.push(Bench.cpuDelta(cpuFloor0, b.cpuSeconds()));
      await b.clean();
      log(`${label}: floor ${fmt(f)} s for ${pods} pods; CPU seconds: ${fmtCpu(cpu.floor[cpu.floor.length - 1])}`);
    };

    /**
     * Who goes first alternates from round to round (the first finds the machine as the floor left it,
     * the last as the others did), so that every pair of operators swaps places every other round.
     */
    const legOrder = (run: number, names: LegName[]) => (run % 2 === 1 ? names : [...names].reverse());
    const roundLegs: LegName[] = PEER === "kuberay" ? ["ours", "kuberay", "kuberay-defaults"] : ["ours"];

    const converging = ONLY === undefined || ONLY === "convergence";
    if (converging) await runFloor("before run 1", floors);
    for (let run = 1; run <= (converging ? RUNS : 0); run++) {
      for (const leg of legOrder(run, roundLegs)) {
        if (leg !== "ours") {
          const settings = leg === "kuberay" ? KUBERAY_EQUAL : KUBERAY_DEFAULTS;
          legs[leg].push(await b.peerConvergence(`run ${run}: ${leg}`, settings, CLUSTERS, WORKERS_PER_CLUSTER, 0));
          continue;
        }
        // Memory at 0 and 100 pods, on a fresh operator.
        await b.startOperator();
        await sleep(1000);
        const m0 = await b.memory();
        rss0.push(m0.rssMb);
        heap0.push(m0.heapMb);
        log(`run ${run}: operator idle: RSS ${fmt(m0.rssMb, 1)} MB, heap ${fmt(m0.heapMb, 1)} MB`);
        const small = Array.from({ length: 10 }, (_, i) => benchCluster(`mem-${i}`, b.ns, WORKERS_PER_CLUSTER));
        await b.createClusters(small);
        await b.waitReady(small.map((c) => c.metadata.name!));
        const m100 = await b.memory();
        rss100.push(m100.rssMb);
        heap100.push(m100.heapMb);
        await b.clean();

        // Convergence of 100 clusters at once, on a fresh operator.
        const label = `run ${run}: ours`;
        const { leg: ours, atReady } = await b.ourConvergence(label, CLUSTERS, WORKERS_PER_CLUSTER);
        legs.ours.push(ours);
        conv.push(ours.clustersReadySeconds);
        cpu.convergence.push(ours.cpuByProcess);
        perPod.push(ours.requestsPerPod);
        breakdown = ours.requestsByKind;
        quiet.push(ours.quietWrites ?? NaN);
        rss1000.push(atReady.rssMb);
        heap1000.push(atReady.heapMb);
        await b.stopOperator();
        await b.clean();
        logLeg(label, ours, totalPods);
        if (BASELINE) {
          // The baseline build, the same steps: idle 1 s after ready, then 100 clusters to Ready.
          await b.startOperator({ main: BASELINE, nodeArgs: BASELINE_NODE_ARGS });
          await sleep(1000);
          baseline.rss0.push((await b.memory()).rssMb);
          await sleep(500);
          const again = Array.from({ length: CLUSTERS }, (_, i) =>
            benchCluster(`b-${run}-${i}`, b.ns, WORKERS_PER_CLUSTER),
          );
          const cpu0 = b.cpuSeconds();
          const t1 = Date.now();
          await b.createClusters(again);
          await b.waitReady(again.map((c) => c.metadata.name!));
          baseline.conv.push((Date.now() - t1) / 1000);
          baseline.cpu.push(Bench.cpuDelta(cpu0, b.cpuSeconds()).operator);
          const bm = await b.memory();
          baseline.rss1000.push(bm.rssMb);
          baseline.heap1000.push(bm.heapMb);
          const last = (xs: number[]) => xs[xs.length - 1];
          log(
            `run ${run}: baseline ${fmt(last(baseline.conv))} s to Ready ` +
              `(operator CPU ${fmt(last(baseline.cpu), 1)} s), ` +
              `RSS idle ${fmt(last(baseline.rss0), 1)} MB, at ${totalPods} pods ${fmt(bm.rssMb, 1)} MB`,
          );
          await b.stopOperator();
          await b.clean();
        }
      }
      await runFloor(`after run ${run}`, floors);
      roundFloors.push((floors[run - 1] + floors[run]) / 2);
      const t = conv[conv.length - 1];
      const ratio = t / roundFloors[run - 1];
      ratios.push(ratio);
      log(
        `run ${run}: convergence ratio ${fmt(ratio)} ` +
          `(operator ${fmt(t)} s, floors ${fmt(floors[run - 1])} s before and ${fmt(floors[run])} s after)`,
      );
      if (PEER === "kuberay") {
        const ours = legs.ours[run - 1];
        const peer = legs.kuberay[run - 1];
        log(
          `run ${run}: all pods Ready, ours / KubeRay ${fmt(ours.podsReadySeconds / peer.podsReadySeconds)} ` +
            `(${fmt(ours.podsReadySeconds)} s / ${fmt(peer.podsReadySeconds)} s; KubeRay at its defaults ` +
            `${fmt(legs["kuberay-defaults"][run - 1].podsReadySeconds)} s)`,
        );
      }
    }

    // Isolation: a small cluster alone, then while a big one scales 0 -> BIG_WORKERS.
    const alone: number[] = [];
    const loaded: number[] = [];
    // Where the small cluster's time went, alone and beside: until both pods exist (the operator's
    // pass and the API server's creates), until both are ready (scheduler and kwok), and from there
    // to Ready in status (the operator).
    type Phases = { created: number[]; ready: number[]; statusReady: number[] };
    const newPhases = (): Phases => ({ created: [], ready: [], statusReady: [] });
    const phases = newPhases();
    const alonePhases = newPhases();
    const addPhases = (to: Phases, marks: Map<string, number>, totalMs: number) => {
      const at = (what: string) => Math.max(marks.get(`head ${what}`) ?? NaN, marks.get(`worker ${what}`) ?? NaN);
      to.created.push(at("created"));
      to.ready.push(at("ready"));
      to.statusReady.push(totalMs - at("ready"));
    };
    // What isolation costs the big cluster: its 0 -> BIG_WORKERS scale-up, edit to Ready.
    const bigScaleUp: number[] = [];
    // Only when isolation runs: with BENCH_ONLY=convergence an operator started here measured nothing,
    // and on a busy machine its slow start failed the run after all its figures were taken.
    const isolating = ONLY === undefined || ONLY === "isolation";
    if (isolating) await b.startOperator();
    for (let run = 1; run <= (isolating ? RUNS : 0); run++) {
      // Alone: a tenth of a second on simulated nodes, so one sample is mostly noise; each run's
      // figure is the median of three (after one warm-up on the first run).
      const samples: number[] = [];
      const runPhases = newPhases();
      for (let i = run === 1 ? 0 : 1; i <= 3; i++) {
        const s1 = benchCluster(`small-a-${run}-${i}`, b.ns, 1);
        const t = Date.now();
        const timeline = b.trace(s1.metadata.name!, t);
        await b.createClusters([s1]);
        await b.waitReady([s1.metadata.name!]);
        const total = Date.now() - t;
        const marks = await timeline();
        if (i === 0) continue;
        samples.push(total / 1000);
        addPhases(runPhases, marks, total);
      }
      alone.push(summarize(samples).median);
      for (const k of ["created", "ready", "statusReady"] as const) alonePhases[k].push(summarize(runPhases[k]).median);

      const big = benchCluster(`big-${run}`, b.ns, 0, BIG_WORKERS);
      await b.createClusters([big]);
      await b.waitReady([big.metadata.name!]);
      const current = await b.admin.get<RayCluster>(
        `/apis/${GROUP}/${VERSION}/namespaces/${b.ns}/${PLURAL}/${big.metadata.name}`,
      );
      current.spec.podTypes[1].minWorkers = BIG_WORKERS;
      const tBig = Date.now();
      await b.admin.request("PUT", `/apis/${GROUP}/${VERSION}/namespaces/${b.ns}/${PLURAL}/${big.metadata.name}`, {
        body: current,
      });
      await sleep(200); // the scale-up is under way
      const s2 = benchCluster(`small-b-${run}`, b.ns, 1);
      const t0 = Date.now();
      const timeline = b.trace(s2.metadata.name!, t0);
      await b.createClusters([s2]);
      await b.waitReady([s2.metadata.name!]);
      const total = Date.now() - t0;
      loaded.push(total / 1000);
      const marks = await timeline();
      const phaseMarks = [...marks].map(([k, v]) => `${k} +${v} ms`).join(", ");
      log(`run ${run}: small cluster beside the scale-up: ${phaseMarks}, Ready +${total} ms`);
      addPhases(phases, marks, total);
      await b.waitReady([big.metadata.name!]);
      bigScaleUp.push((Date.now() - tBig) / 1000);
      log(`run ${run}: big cluster 0 -> ${BIG_WORKERS} workers Ready in ${fmt(bigScaleUp[bigScaleUp.length - 1])} s`);
      log(
        `run ${run}: small cluster Ready in ${fmt(alone[alone.length - 1])} s alone, ` +
          `${fmt(loaded[loaded.length - 1])} s beside a 0 -> ${BIG_WORKERS} scale-up`,
      );
      await b.clean();
    }

    // At scale: the same convergence with SCALE pods, this operator and KubeRay (its client settings
    // equal to ours; at its defaults it would mostly measure its QPS of 100), between two floors.
    const scaleFloors: number[] = [];
    const scaleLegs: Record<"ours" | "kuberay", Leg[]> = { ours: [], kuberay: [] };
    const scaleRoundFloors: number[] = [];
    const atScale = SCALE !== undefined && (ONLY === undefined || ONLY === "scale");
    const shape = scaleShape(SCALE ?? 0);
    const scalePods = shape.clusters * (1 + shape.workersPerCluster);
    if (atScale)
      await runFloor(`at ${scalePods} pods, before run 1`, scaleFloors, shape.clusters, shape.workersPerCluster);
    for (let run = 1; run <= (atScale ? SCALE_RUNS : 0); run++) {
      const names: Array<"ours" | "kuberay"> = PEER === "kuberay" ? ["ours", "kuberay"] : ["ours"];
      for (const leg of legOrder(run, names)) {
        const label = `at ${scalePods} pods, run ${run}: ${leg}`;
        if (leg === "kuberay") {
          scaleLegs.kuberay.push(
            await b.peerConvergence(label, KUBERAY_EQUAL, shape.clusters, shape.workersPerCluster, QUIET_SECONDS),
          );
          continue;
        }
        const { leg: ours } = await b.ourConvergence(label, shape.clusters, shape.workersPerCluster);
        scaleLegs.ours.push(ours);
        await b.stopOperator();
        await b.clean();
        logLeg(label, ours, scalePods);
      }
      await runFloor(`at ${scalePods} pods, after run ${run}`, scaleFloors, shape.clusters, shape.workersPerCluster);
      scaleRoundFloors.push((scaleFloors[run - 1] + scaleFloors[run]) / 2);
    }

    const s = (xs: number[]) => summarize(xs);
    const convS = s(conv);
    const floorS = s(floors);
    const ratioS = s(ratios);
    const isoS = s(loaded.map((l, i) => l / alone[i]));
    const peerTable =
      PEER === "kuberay" && legs.ours.length
        ? comparison(
            { ours: legs.ours, kuberay: legs.kuberay, "kuberay-defaults": legs["kuberay-defaults"] },
            roundFloors,
            totalPods,
          )
        : undefined;
    const scaleTable = scaleLegs.ours.length
      ? comparison(PEER === "kuberay" ? scaleLegs : { ours: scaleLegs.ours }, scaleRoundFloors, scalePods)
      : undefined;
    Object.assign(results, {
      convergence: { operatorSeconds: convS, floorSeconds: floorS, ratio: ratioS, cpuSecondsByProcess: cpu },
      isolation: {
        aloneSeconds: s(alone),
        besideScaleUpSeconds: s(loaded),
        ratio: isoS,
        bigScaleUpSeconds: s(bigScaleUp),
        aloneMs: {
          bothPodsCreated: s(alonePhases.created),
          bothPodsReady: s(alonePhases.ready),
          podsReadyToClusterReady: s(alonePhases.statusReady),
        },
        besideScaleUpMs: {
          bothPodsCreated: s(phases.created),
          bothPodsReady: s(phases.ready),
          podsReadyToClusterReady: s(phases.statusReady),
        },
      },
      memory: {
        rssMbAt0: s(rss0),
        rssMbAt100: s(rss100),
        rssMbAt1000: s(rss1000),
        heapMbAt0: s(heap0),
        heapMbAt100: s(heap100),
        heapMbAt1000: s(heap1000),
      },
      quiet: { writesIn60s: s(quiet) },
      ...(BASELINE
        ? {
            baseline: {
              operator: BASELINE,
              nodeArgs: BASELINE_NODE_ARGS,
              rssMbAt0: s(baseline.rss0),
              rssMbAt1000: s(baseline.rss1000),
              heapMbAt1000: s(baseline.heap1000),
              convergenceSeconds: s(baseline.conv),
              operatorCpuSeconds: s(baseline.cpu),
            },
          }
        : {}),
      apiEconomy: { requestsPerPod: s(perPod), lastRunByVerbAndResource: breakdown },
      ...(peerTable ? { kuberay: { version: KUBERAY_VERSION, figures: peerTable, rounds: legs } } : {}),
      ...(scaleTable
        ? {
            scale: {
              pods: scalePods,
              ...shape,
              floorSeconds: s(scaleFloors),
              figures: scaleTable,
              rounds: scaleLegs,
            },
          }
        : {}),
    });
    const rows: Array<[string, Summary, string, string]> = [
      ["convergence, operator (s)", convS, "", ""],
      ["convergence, floor (s)", floorS, "", ""],
      ["convergence ratio", ratioS, "<= 1.25", ratioS.median <= 1.25 ? "met" : "missed"],
      ["isolation, alone (s)", s(alone), "", ""],
      ["isolation, beside scale-up (s)", s(loaded), "", ""],
      ["  alone: pods created (ms)", s(alonePhases.created), "", ""],
      ["  alone: pods ready (ms)", s(alonePhases.ready), "", ""],
      ["  alone: ready -> Ready (ms)", s(alonePhases.statusReady), "", ""],
      ["  beside: pods created (ms)", s(phases.created), "", ""],
      ["  beside: pods ready (ms)", s(phases.ready), "", ""],
      ["  beside: ready -> Ready (ms)", s(phases.statusReady), "", ""],
      [`  big cluster 0 -> ${BIG_WORKERS} (s)`, s(bigScaleUp), "", ""],
      ["isolation ratio", isoS, "<= 2", isoS.median <= 2 ? "met" : "missed"],
      ["RSS at 0 pods (MB)", s(rss0), "", ""],
      ["RSS at 100 pods (MB)", s(rss100), "", ""],
      ["RSS at 1000 pods (MB)", s(rss1000), "<= 200", s(rss1000).median <= 200 ? "met" : "missed"],
      ["heap at 0 pods (MB)", s(heap0), "", ""],
      ["heap at 100 pods (MB)", s(heap100), "", ""],
      ["heap at 1000 pods (MB)", s(heap1000), "", ""],
      [`API writes in ${QUIET_SECONDS}s, steady`, s(quiet), "0", s(quiet).median === 0 ? "met" : "missed"],
      ...(BASELINE
        ? ([
            ["baseline: RSS at 0 pods (MB)", s(baseline.rss0), "", ""],
            ["baseline: RSS at 1000 pods (MB)", s(baseline.rss1000), "", ""],
            ["baseline: heap at 1000 pods (MB)", s(baseline.heap1000), "", ""],
            ["baseline: convergence (s)", s(baseline.conv), "", ""],
          ] as Array<[string, Summary, string, string]>)
        : []),
      ["API requests per pod", s(perPod), "", ""],
    ];
    console.log(
      `\nmachine: ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, ${results.machine.cpuModel}`,
    );
    console.log(`${"figure".padEnd(34)} ${"median (min, max, runs)".padEnd(36)} target     result`);
    for (const [name, sum, target, ok] of rows)
      console.log(`${name.padEnd(34)} ${fmtSummary(sum).padEnd(36)} ${target.padEnd(10)} ${ok}`);
    if (peerTable)
      printComparison(
        `this operator and KubeRay ${KUBERAY_VERSION}, ${totalPods} pods`,
        peerTable,
        ["ours", "kuberay", "kuberay-defaults"],
        RUNS,
      );
    if (scaleTable) {
      console.log(`\nfloor at ${scalePods} pods (s): ${fmtRange(s(scaleFloors))}`);
      printComparison(
        `at ${scalePods} pods (${shape.clusters} clusters of 1 + ${shape.workersPerCluster}), ${SCALE_RUNS} run(s)`,
        scaleTable,
        PEER === "kuberay" ? ["ours", "kuberay"] : ["ours"],
        SCALE_RUNS,
      );
    }
    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    const file = join(ROOT, "bench", "results", `${resultsName(results.date)}.json`);
    writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
    console.log(`\nwrote ${file}`);
    console.log(`convergence_ratio: ${fmt(ratioS.median)}`);
    console.log(`isolation_ratio: ${fmt(isoS.median)}`);
    console.log(`rss_mb_at_1000_pods: ${fmt(s(rss1000).median, 1)}`);
    console.log(`steady_writes_60s: ${s(quiet).median}`);
    console.log(`requests_per_pod: ${fmt(s(perPod).median)}`);
    if (BASELINE) {
      // Each run's figure against the baseline's in the same run, then the median of those ratios.
      const ratio = (a: number[], bs: number[]) => pairedRatio(a, bs).median;
      console.log(`rss_mb_at_0_pods: ${fmt(s(rss0).median, 1)} (baseline ${fmt(s(baseline.rss0).median, 1)})`);
      console.log(`rss_vs_baseline_at_0_pods: ${fmt(ratio(rss0, baseline.rss0))}`);
      console.log(`rss_vs_baseline_at_1000_pods: ${fmt(ratio(rss1000, baseline.rss1000))}`);
      console.log(`convergence_vs_baseline: ${fmt(ratio(conv, baseline.conv))}`);
      const cpuNow = cpu.convergence.map((c) => c.operator);
      console.log(`operator_cpu_s: ${fmt(s(cpuNow).median, 1)} (baseline ${fmt(s(baseline.cpu).median, 1)})`);
    }
    // Against KubeRay with equal client settings, round by round (paired), then the median: time to all
    // pods Running+Ready, and VmRSS the instant the last pod was Ready. n/a without KubeRay
    // (BENCH_PEER=none) or without a convergence round (BENCH_ONLY).
    const vsPeer = (read: (l: Leg) => number, byLeg: Record<"ours" | "kuberay", Leg[]>) =>
      PEER === "kuberay" && byLeg.ours.length && byLeg.kuberay.length
        ? fmt(pairedRatio(byLeg.ours.map(read), byLeg.kuberay.map(read)).median)
        : "n/a";
    console.log(`convergence_vs_kuberay: ${vsPeer((l) => l.podsReadySeconds, legs)}`);
    console.log(`rss_vs_kuberay: ${vsPeer((l) => l.rssAtPodsReadyMb, legs)}`);
    // The two figures at 10,000 pods are n/a unless BENCH_SCALE=10000 asked for them (another
    // BENCH_SCALE's figures are in the table above and the results file, not on these lines).
    const at10000 = SCALE === 10000 && scaleLegs.ours.length > 0;
    console.log(
      `rss_mb_at_10000_pods: ${at10000 ? fmt(s(scaleLegs.ours.map((l) => l.rssAtPodsReadyMb)).median, 1) : "n/a"}`,
    );
    console.log(`convergence_vs_kuberay_10000: ${at10000 ? vsPeer((l) => l.podsReadySeconds, scaleLegs) : "n/a"}`);
  } finally {
    await b.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
