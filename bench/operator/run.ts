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
//      the same small cluster alone (isolation.ts), on the simulated nodes, and again with the small
//      cluster's Ray in real containers on the real node (isolation-real.ts: on a local cluster of its
//      own, where this machine can host the node; skipped, with the reason, where it cannot);
//   4. memory: operator RSS and heap at 0, 100 and 1,000 pods;
//   5. quiet: API writes in 60 s at steady state with 1,000 pods;
//   6. API economy: requests per created pod during convergence;
//   7. BENCH_SCALE=<pods> (e.g. 10000): the same at that many pods, against the floor and KubeRay.
// Writes bench/results/<date>[-<settings>].json and ends with one machine-readable line per target.
import { mkdirSync, writeFileSync } from "fs";
import { cpus, totalmem } from "os";
import { join } from "path";
import { startControlPlane, stopControlPlane, ControlPlaneState } from "../../scripts/cluster/control-plane";
import { KubeRest } from "../../operator/kube/rest";
import { connectionOf } from "../../scripts/kube-connection";
import { Stored } from "../../operator/kube/informer";
import { LABELS, RayCluster } from "../../api/v1/types";
import type { Event, List, Pod } from "../../api/v1/kube-types";
import { buildPod } from "../../builders/pod";
import { defaulted } from "../../api/v1/defaults";
import { BenchCluster, BURST, OperatorBuild, QPS, RECONCILE_WORKERS, log, sleep } from "./harness";
import { summarize, fmtSummary, fmtRange, fmt, Summary } from "./stats";
import { benchCluster, scaleShape } from "./workload";
import { isolationResults, isolationRows, measureIsolation, Row } from "./isolation";
import { isolationOnRealNode } from "./isolation-real";
import { whyNoRealNode } from "../../scripts/cluster/host";
import { cpuByProcess, cpuDelta, cpuSecondsOf, fmtCpu, rssMb } from "./proc";
import {
  KUBERAY_CLUSTER_LABEL,
  KUBERAY_RAYCLUSTERS,
  KUBERAY_VERSION,
  KubeRayProcess,
  KubeRaySettings,
  installKubeRay,
  kubeRayBenchCluster,
  kubeRayClusterReady,
  kubeRayToolchain,
} from "./kuberay";
import { measureWriteCosts, WRITE_KINDS, WriteCosts } from "./write-cost";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 100);
const WORKERS_PER_CLUSTER = 9;
const BIG_WORKERS = Number(process.env.BENCH_BIG_WORKERS ?? 500);
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 60);
// BENCH_ONLY=convergence|isolation|isolation-real|scale|write-cost: one part only (a quick look while profiling;
// the report then lacks the others).
const ONLY = process.env.BENCH_ONLY;
// BENCH_PEER=none: this operator alone; by default KubeRay is measured in every convergence round.
const PEER = process.env.BENCH_PEER ?? "kuberay";
// BENCH_SCALE=<pods>: also converge that many pods (workload.ts's scaleShape: 10000 -> 1,000 clusters of
// 1 + 9), BENCH_SCALE_RUNS times (default 1: a run at 10,000 pods takes a quarter of an hour here).
const SCALE = process.env.BENCH_SCALE ? Number(process.env.BENCH_SCALE) : undefined;
const SCALE_RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 1);
// BENCH_BASELINE=<file>: another build of the operator (e.g. main's `dist/operator/main.js`, run with
// BENCH_BASELINE_NODE_ARGS, default `--enable-source-maps`, and BENCH_BASELINE_ENV="NAME=value ...",
// e.g. MALLOC_ARENA_MAX=2), measured in every convergence run right after this one, on the same
// control plane: its RSS idle and at 1,000 pods and its convergence time.
const words = (value: string) => value.split(/\s+/).filter(Boolean);
/** `NAME=value NAME2=value2` (BENCH_BASELINE_ENV) as an environment. */
function envPairs(value: string): Record<string, string> {
  return Object.fromEntries(
    words(value).map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new Error(`BENCH_BASELINE_ENV: "${pair}" is not NAME=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
const BASELINE: OperatorBuild | undefined = process.env.BENCH_BASELINE
  ? {
      main: process.env.BENCH_BASELINE,
      nodeArgs: words(process.env.BENCH_BASELINE_NODE_ARGS ?? "--enable-source-maps"),
      env: envPairs(process.env.BENCH_BASELINE_ENV ?? ""),
    }
  : undefined;
const ROOT = join(__dirname, "..", "..");
const STATE_DIR = join(ROOT, ".bench-cluster");

if (PEER !== "kuberay" && PEER !== "none") throw new Error(`BENCH_PEER=${PEER}: kuberay (the default) or none`);
if (ONLY !== undefined && !["convergence", "isolation", "isolation-real", "scale", "write-cost"].includes(ONLY))
  throw new Error(`BENCH_ONLY=${ONLY}: convergence, isolation, isolation-real, scale or write-cost`);
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
const KWOK_NODES = { count: NODE_COUNT, cpu: "512", memory: "2Ti", pods: PODS_PER_NODE };

/** The operator's event source, by operator (ours: operator/main.ts; KubeRay's RayCluster controller). */
const EVENT_SOURCE = { ours: "ray-operator", kuberay: "raycluster-controller" } as const;

/** Time limits that grow with the pods a step handles (10 min at 1,000 pods; 30 min at 10,000). */
const timeoutFor = (pods: number) => Math.max(600_000, pods * 180);

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

class Bench extends BenchCluster {
  state!: ControlPlaneState;
  peer?: KubeRayProcess;
  peerBinary = "";
  peerKubeconfig = "";

  async setup() {
    // KubeRay first: a build takes minutes and would leave the control plane idle meanwhile. Not for
    // the isolation part alone, which measures only this operator.
    const toolchain = PEER === "kuberay" && ONLY !== "isolation" ? kubeRayToolchain(log) : undefined;
    this.state = await startControlPlane({
      stateDir: STATE_DIR,
      nodes: KWOK_NODES,
      log,
    });
    await this.install(this.state.kubeconfig);
    if (toolchain) {
      this.peerBinary = toolchain.binary;
      this.peerKubeconfig = await installKubeRay(this.admin, this.kc, this.ns, toolchain);
    }
  }

  async startOperator(entry?: OperatorBuild) {
    await this.stopPeer();
    await super.startOperator(entry);
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
    return cpuByProcess(this.state.pids, operatorPid);
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

  /** Resolves once every one of these KubeRay RayClusters says it is ready (kuberay.ts). */
  async waitPeerReady(names: string[], timeoutMs = 600_000): Promise<void> {
    await this.waitAll(KUBERAY_RAYCLUSTERS(this.ns), names, kubeRayClusterReady, timeoutMs).catch((e: Error) =>
      Promise.reject(new Error(`${names.length} KubeRay clusters not ready: ${e.message}`)),
    );
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
      cpuByProcess: cpuDelta(cpu0, this.cpuSeconds(o.operatorPid)),
    };
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

  protected clusterCollections(): string[] {
    return [...super.clusterCollections(), ...(this.peerKubeconfig ? [KUBERAY_RAYCLUSTERS(this.ns)] : [])];
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

/** Every part on the simulated nodes' control plane (all but isolation-real): its table, its lines into `lines`. */
async function operatorParts(results: Results, lines: string[]) {
  const b = new Bench();
  // Ctrl-C (or a SIGTERM to this process alone): the control plane's processes run in process groups
  // of their own and would outlive the benchmark, so they are stopped here, with both operators.
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping the operators and the control plane`);
    for (const pid of [b.op?.pid, b.peer?.pid]) if (pid) process.kill(pid, "SIGKILL");
    if (b.state) stopControlPlane(b.state);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
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
      cpu.floor.push(cpuDelta(cpuFloor0, b.cpuSeconds()));
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
          await b.startOperator(BASELINE);
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
          baseline.cpu.push(cpuDelta(cpu0, b.cpuSeconds()).operator);
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

    // Isolation: a small cluster alone, then while a big one scales 0 -> BIG_WORKERS (isolation.ts).
    // Only when isolation runs: with BENCH_ONLY=convergence an operator started here measured nothing,
    // and on a busy machine its slow start failed the run after all its figures were taken.
    const isolating = ONLY === undefined || ONLY === "isolation";
    if (isolating) await b.startOperator();
    const iso = await measureIsolation(b, {
      label: "isolation",
      runs: isolating ? RUNS : 0,
      bigWorkers: BIG_WORKERS,
      small: (name, ns) => benchCluster(name, ns, 1),
    });

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

    // Last, on the control plane as the parts above left it, no operator running: what one write costs
    // the API server (write-cost.ts).
    let writeCosts: WriteCosts | undefined;
    if (ONLY === undefined || ONLY === "write-cost") {
      await b.stopOperator();
      await b.stopPeer();
      writeCosts = await measureWriteCosts({
        admin: b.admin,
        apiServerPid: b.state.pids["kube-apiserver"],
        ns: b.ns,
        kuberay: PEER === "kuberay",
      });
      for (const [kind, ms] of Object.entries(writeCosts)) log(`API-server CPU per write, ${kind}: ${fmtRange(ms)} ms`);
    }

    const s = (xs: number[]) => summarize(xs);
    const convS = s(conv);
    const floorS = s(floors);
    const ratioS = s(ratios);
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
      isolation: isolationResults(iso),
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
              operator: BASELINE.main,
              nodeArgs: BASELINE.nodeArgs,
              env: BASELINE.env,
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
      ...(writeCosts ? { apiServerMsPerWrite: writeCosts } : {}),
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
    const rows: Row[] = [
      ["convergence, operator (s)", convS, "", ""],
      ["convergence, floor (s)", floorS, "", ""],
      ["convergence ratio", ratioS, "<= 1.25", ratioS.median <= 1.25 ? "met" : "missed"],
      ...isolationRows(iso, "isolation", BIG_WORKERS, 2),
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
          ] as Row[])
        : []),
      ["API requests per pod", s(perPod), "", ""],
    ];
    printRows(results, rows);
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
    lines.push(`convergence_ratio: ${fmt(ratioS.median)}`);
    lines.push(`isolation_ratio: ${fmt(s(iso.ratio).median)}`);
    lines.push(`rss_mb_at_1000_pods: ${fmt(s(rss1000).median, 1)}`);
    lines.push(`steady_writes_60s: ${s(quiet).median}`);
    lines.push(`requests_per_pod: ${fmt(s(perPod).median)}`);
    if (BASELINE) {
      // Each run's figure against the baseline's in the same run, then the median of those ratios.
      const ratio = (a: number[], bs: number[]) => pairedRatio(a, bs).median;
      lines.push(`rss_mb_at_0_pods: ${fmt(s(rss0).median, 1)} (baseline ${fmt(s(baseline.rss0).median, 1)})`);
      lines.push(`rss_vs_baseline_at_0_pods: ${fmt(ratio(rss0, baseline.rss0))}`);
      lines.push(`rss_vs_baseline_at_1000_pods: ${fmt(ratio(rss1000, baseline.rss1000))}`);
      lines.push(`convergence_vs_baseline: ${fmt(ratio(conv, baseline.conv))}`);
      const cpuNow = cpu.convergence.map((c) => c.operator);
      lines.push(`operator_cpu_s: ${fmt(s(cpuNow).median, 1)} (baseline ${fmt(s(baseline.cpu).median, 1)})`);
    }
    // Against KubeRay with equal client settings, round by round (paired), then the median: time to all
    // pods Running+Ready, and VmRSS the instant the last pod was Ready. n/a without KubeRay
    // (BENCH_PEER=none) or without a convergence round (BENCH_ONLY).
    const vsPeer = (read: (l: Leg) => number, byLeg: Record<"ours" | "kuberay", Leg[]>) =>
      PEER === "kuberay" && byLeg.ours.length && byLeg.kuberay.length
        ? fmt(pairedRatio(byLeg.ours.map(read), byLeg.kuberay.map(read)).median)
        : "n/a";
    lines.push(`convergence_vs_kuberay: ${vsPeer((l) => l.podsReadySeconds, legs)}`);
    lines.push(`rss_vs_kuberay: ${vsPeer((l) => l.rssAtPodsReadyMb, legs)}`);
    // The two figures at 10,000 pods are n/a unless BENCH_SCALE=10000 asked for them (another
    // BENCH_SCALE's figures are in the table above and the results file, not on these lines).
    const at10000 = SCALE === 10000 && scaleLegs.ours.length > 0;
    lines.push(
      `rss_mb_at_10000_pods: ${at10000 ? fmt(s(scaleLegs.ours.map((l) => l.rssAtPodsReadyMb)).median, 1) : "n/a"}`,
    );
    lines.push(`convergence_vs_kuberay_10000: ${at10000 ? vsPeer((l) => l.podsReadySeconds, scaleLegs) : "n/a"}`);
    // API-server CPU milliseconds per RayCluster status write, this CRD's and KubeRay's (write-cost.ts).
    const msPerWrite = (kind: string) => (writeCosts?.[kind] ? fmt(writeCosts[kind].median, 1) : "n/a");
    lines.push(`apiserver_ms_per_status_write: ${msPerWrite(WRITE_KINDS.ours)}`);
    lines.push(`apiserver_ms_per_status_write_kuberay: ${msPerWrite(WRITE_KINDS.kuberay)}`);
    // The absolute figure moves with the machine's load; the ratio, batch by batch, much less.
    const ours = writeCosts?.[WRITE_KINDS.ours];
    const theirs = writeCosts?.[WRITE_KINDS.kuberay];
    lines.push(
      `apiserver_status_write_vs_kuberay: ${ours && theirs ? fmt(pairedRatio(ours.runs, theirs.runs).median) : "n/a"}`,
    );
  } finally {
    await b.stop();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

type Results = Record<string, unknown> & { date: string; machine: Record<string, unknown> };

/** A table of figures: median, min, max and runs, the target and whether it was met. */
function printRows(results: Results, rows: Row[]): void {
  console.log(
    `\nmachine: ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, ${results.machine.cpuModel}`,
  );
  const width = Math.max(34, ...rows.map(([name]) => name.length));
  console.log(`${"figure".padEnd(width)} ${"median (min, max, runs)".padEnd(36)} target     result`);
  for (const [name, sum, target, ok] of rows)
    console.log(`${name.padEnd(width)} ${fmtSummary(sum).padEnd(36)} ${target.padEnd(10)} ${ok}`);
}

/**
 * Isolation with real containers (isolation-real.ts), on a local cluster of its own with the real
 * node: with BENCH_ONLY=isolation-real, and in the full run where this machine can host the node
 * (skipped there, with the reason, where it cannot).
 */
async function realNodePart(results: Results, lines: string[]) {
  const why = whyNoRealNode();
  if (why) {
    if (ONLY) throw new Error(`BENCH_ONLY=isolation-real: this machine cannot host the real node: ${why}`);
    log(`isolation on the real node: skipped: ${why}`);
    results.isolationRealNode = { skipped: why };
    lines.push("isolation_real_node_ratio: n/a");
    return;
  }
  const part = await isolationOnRealNode({ root: ROOT, runs: RUNS, bigWorkers: BIG_WORKERS, kwokNodes: KWOK_NODES });
  results.isolationRealNode = part.results;
  printRows(results, part.rows);
  lines.push(part.line);
}

async function main() {
  const results: Results = {
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
      kwokNodes: KWOK_NODES,
    },
  };
  // The machine-readable lines, one per target, printed last.
  const lines: string[] = [];
  if (ONLY !== "isolation-real") await operatorParts(results, lines);
  if (ONLY === undefined || ONLY === "isolation-real") await realNodePart(results, lines);
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  const file = join(ROOT, "bench", "results", `${resultsName(results.date)}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  console.log(`\nwrote ${file}`);
  for (const l of lines) console.log(l);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
