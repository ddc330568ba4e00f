// npm run bench: how fast the operator converges, how far it scales, what it costs. On a control
// plane of its own with enough kwok capacity; the operator is the compiled process, under its
// ServiceAccount. Every figure is the median of several runs (min and max beside it), and the two
// time figures are ratios to a baseline measured in the same run:
//   1. convergence: 100 RayClusters of 1 head + 9 workers at once, until all Ready, against a floor
//      that creates the same 1,000 pods directly with the same client and concurrency (the mean of
//      the floor runs just before and just after);
//   2. isolation: a small cluster's time to Ready while another scales 0 -> 500 workers, against
//      the same small cluster alone;
//   3. memory: operator RSS and heap at 0, 100 and 1,000 pods;
//   4. quiet: API writes in 60 s at steady state with 1,000 pods;
//   5. API economy: requests per created pod during convergence.
// Writes bench/results/<date>.json and ends with one machine-readable line per target.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { cpus, totalmem } from "os";
import { join } from "path";
import * as k8s from "@kubernetes/client-node";
import {
  KWOK_PLACEMENT,
  startControlPlane,
  stopControlPlane,
  ControlPlaneState,
} from "../../scripts/cluster/control-plane";
import {
  OperatorProcess,
  serviceAccountToken,
  writeKubeconfigWithToken,
  buildOperator,
} from "../../scripts/operator-process";
import { KubeRest, isNotFound } from "../../operator/kube/rest";
import { connectionOf } from "../../scripts/kube-connection";
import { Informer } from "../../operator/kube/informer";
import { createLogger } from "../../operator/util/log";
import { rayClusterCrd } from "../../api/v1/crd";
import { API_VERSION, CRD_NAME, GROUP, KIND, LABELS, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { namespaceObject } from "../../builders/namespace";
import { rbacObjects, SERVICE_ACCOUNT } from "../../builders/rbac";
import { buildPod } from "../../builders/pod";
import { defaulted } from "../../api/v1/defaults";
import { summarize, fmtSummary, fmt, Summary } from "./stats";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 100);
const WORKERS_PER_CLUSTER = 9;
const BIG_WORKERS = Number(process.env.BENCH_BIG_WORKERS ?? 500);
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 60);
// BENCH_ONLY=convergence|isolation: one part only (a quick look while profiling; the report then lacks the other).
const ONLY = process.env.BENCH_ONLY;
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

const log = (l: string) => console.error(`[bench] ${l}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small RayCluster: the seed's example shape with modest requests, 1 head + `workers` workers. */
function benchCluster(name: string, namespace: string, workers: number, maxWorkers = workers): RayCluster {
  const pod = (kind: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: `${name}-ray-${kind}-` },
    // On the simulated nodes: the benchmark measures the operator and the control plane at scale.
    spec: {
      ...KWOK_PLACEMENT,
      restartPolicy: "Never",
      containers: [
        {
          name: "ray-node",
          image: "rayproject/ray:2.60.0",
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "128Mi" } },
        },
      ],
    },
  });
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: {
      maxWorkers,
      headPodType: "head-node",
      podTypes: [
        { name: "head-node", podConfig: pod("head") as any },
        {
          name: "worker-nodes",
          minWorkers: workers,
          maxWorkers,
          rayResources: { Custom1: 1 },
          podConfig: pod("worker") as any,
        },
      ],
    },
  };
}

class Bench {
  state!: ControlPlaneState;
  kc = new k8s.KubeConfig();
  admin!: KubeRest;
  op?: OperatorProcess;
  saKubeconfig = "";
  ns = "bench";

  async setup() {
    this.state = await startControlPlane({
      stateDir: join(ROOT, ".bench-cluster"),
      nodes: { count: 8, cpu: "512", memory: "2Ti", pods: 400 },
      log,
    });
    this.kc.loadFromFile(this.state.kubeconfig);
    this.admin = await KubeRest.create(await connectionOf(this.kc), { qps: 1000, burst: 2000 });
    const apply = async (path: string, obj: any) => {
      try {
        await this.admin.create(path, obj);
      } catch (e: any) {
        if (e.code !== 409) throw e;
      }
    };
    await apply("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", rayClusterCrd());
    for (;;) {
      const crd = await this.admin.get<any>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
      if (crd.status?.conditions?.some((c: any) => c.type === "Established" && c.status === "True")) break;
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
    buildOperator();
  }

  async stopOperator() {
    await this.op?.stop();
    if (this.op && OPERATOR_LOG) appendFileSync(OPERATOR_LOG, this.op.logs());
    this.op = undefined;
  }

  async startOperator(entry?: { main: string; nodeArgs: string[] }) {
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

  /** CPU seconds used so far by each control-plane process, the operator and this script (from /proc). */
  cpuSeconds(): Record<string, number> {
    const ticks = (pid?: number) => {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
        return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
      } catch {
        return 0;
      }
    };
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.state.pids)) out[name] = ticks(pid);
    out.operator = ticks(this.op?.pid);
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
  observe(
    path: string,
    labelSelector: string | undefined,
    see: (obj: any) => boolean,
    stop?: AbortSignal,
    timeoutMs = 600_000,
  ): Promise<void> {
    const inf = new Informer<any>(this.admin, {
      name: `bench ${path}`,
      path,
      labelSelector,
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
      const check = (o: any) => {
        if (see(o)) finish();
      };
      inf.on({ add: check, update: (_, o) => check(o) });
      stop?.addEventListener("abort", () => finish());
      inf.start();
    });
  }

  async waitReady(names: string[], timeoutMs = 600_000): Promise<void> {
    const waiting = new Set(names);
    const ready = (rc: any) =>
      rc.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") &&
      rc.status.observedGeneration === rc.metadata.generation;
    await this.observe(
      `/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`,
      undefined,
      (rc) => {
        if (ready(rc)) waiting.delete(rc.metadata.name);
        return waiting.size === 0;
      },
      undefined,
      timeoutMs,
    ).catch((e) => Promise.reject(new Error(`${names.length} clusters not Ready: ${e.message}`)));
  }

  /** Records when a cluster's pods are first seen, scheduled and ready (from a watch); call the result to stop. */
  trace(cluster: string, t0: number): () => Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    const mark = (what: string) => {
      if (!seen.has(what)) seen.set(what, Date.now() - t0);
    };
    const ac = new AbortController();
    const watching = this.observe(
      `/api/v1/namespaces/${this.ns}/pods`,
      `${LABELS.clusterName}=${cluster}`,
      (p) => {
        const kind = p.metadata.labels[LABELS.nodeType];
        mark(`${kind} created`);
        if (p.spec.nodeName) mark(`${kind} scheduled`);
        if (p.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True")) mark(`${kind} ready`);
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

  async createClusters(clusters: RayCluster[]) {
    // All at once, as `kubectl apply -f` of a directory would.
    await Promise.all(
      clusters.map((rc) => this.admin.create(`/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`, rc)),
    );
  }

  /** Deletes every RayCluster and every pod, and waits for the namespace to be empty of pods. */
  async clean() {
    // A collection delete of 1,000 objects takes the API server well past the client's default 30 s
    // when the machine is busy: give it 5 minutes rather than fail the whole run.
    const timeoutMs = 300_000;
    await this.admin.request("DELETE", `/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`, { timeoutMs });
    await this.admin.request("DELETE", `/api/v1/namespaces/${this.ns}/pods`, {
      query: { gracePeriodSeconds: 0 },
      timeoutMs,
    });
    for (;;) {
      const pods = await this.admin.get<any>(`/api/v1/namespaces/${this.ns}/pods`, { limit: 1 });
      const rcs = await this.admin.get<any>(`/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`, { limit: 1 });
      if (pods.items.length === 0 && rcs.items.length === 0) break;
      await sleep(500);
    }
    const svcs = await this.admin.get<any>(`/api/v1/namespaces/${this.ns}/services`);
    await Promise.all(
      svcs.items.map((s: any) =>
        this.admin
          .delete(`/api/v1/namespaces/${this.ns}/services/${s.metadata.name}`)
          .catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))),
      ),
    );
  }

  /** The floor: the same 1,000 pods, created directly with the same client settings and concurrency, until Running. */
  async floor(): Promise<number> {
    const client = await KubeRest.create(await connectionOf(this.kc), { qps: QPS, burst: BURST });
    const pods: any[] = [];
    for (let i = 0; i < CLUSTERS; i++) {
      const rc = {
        ...benchCluster(`floor-${i}`, this.ns, WORKERS_PER_CLUSTER),
        metadata: { name: `floor-${i}`, namespace: this.ns, uid: "none" },
      } as RayCluster;
      for (const [type, kind, n] of [
        ["head-node", "head", 1],
        ["worker-nodes", "worker", WORKERS_PER_CLUSTER],
      ] as const) {
        for (let j = 0; j < n; j++) {
          const p = buildPod(defaulted(rc), type, kind);
          delete p.metadata.ownerReferences;
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
    await this.observe(`/api/v1/namespaces/${this.ns}/pods`, LABELS.clusterName, (p) => {
      if (p.status?.phase === "Running") running.add(p.metadata.name);
      return running.size === pods.length;
    });
    const elapsed = (Date.now() - started) / 1000;
    client.close();
    return elapsed;
  }

  async stop() {
    await this.stopOperator();
    this.admin?.close();
    if (this.state) stopControlPlane(this.state);
  }
}

async function main() {
  const b = new Bench();
  const results: Record<string, any> = {
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
    const fmtCpu = (c: Record<string, number>) =>
      Object.entries(c)
        .map(([k, v]) => `${k} ${fmt(v, 1)}`)
        .join(", ") +
      ` (total ${fmt(
        Object.values(c).reduce((x, y) => x + y, 0),
        1,
      )})`;
    const totalPods = CLUSTERS * (1 + WORKERS_PER_CLUSTER);

    // The floor runs before the first convergence and after each one, on an idle API server (no
    // operator): each convergence is compared with the mean of the floors on either side of it, so
    // a machine that drifts faster or slower during the run moves both sides of the ratio.
    const runFloor = async (label: string) => {
      await b.stopOperator();
      const cpuFloor0 = b.cpuSeconds();
      const f = await b.floor();
      floors.push(f);
      cpu.floor.push(Bench.cpuDelta(cpuFloor0, b.cpuSeconds()));
      await b.clean();
      log(`${label}: floor ${fmt(f)} s for ${totalPods} pods; CPU seconds: ${fmtCpu(cpu.floor[cpu.floor.length - 1])}`);
    };
    if (ONLY !== "isolation") await runFloor("before run 1");
    for (let run = 1; run <= (ONLY === "isolation" ? 0 : RUNS); run++) {
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
      await b.startOperator();
      await sleep(500);
      const before = await b.metrics();
      const clusters = Array.from({ length: CLUSTERS }, (_, i) => benchCluster(`c-${i}`, b.ns, WORKERS_PER_CLUSTER));
      const cpuConv0 = b.cpuSeconds();
      const started = Date.now();
      await b.createClusters(clusters);
      await b.waitReady(clusters.map((c) => c.metadata.name!));
      const t = (Date.now() - started) / 1000;
      conv.push(t);
      cpu.convergence.push(Bench.cpuDelta(cpuConv0, b.cpuSeconds()));
      log(`run ${run}: CPU seconds during convergence: ${fmtCpu(cpu.convergence[cpu.convergence.length - 1])}`);
      const after = await b.metrics();
      // Where the time went: last pod created, last pod running, last cluster Ready (API timestamps, 1 s resolution).
      const podsNow = await b.admin.get<any>(`/api/v1/namespaces/${b.ns}/pods`, { labelSelector: LABELS.clusterName });
      const lastCreated = Math.max(...podsNow.items.map((p: any) => Date.parse(p.metadata.creationTimestamp)));
      const lastRunning = Math.max(
        ...podsNow.items.map((p: any) =>
          Date.parse(p.status?.conditions?.find((c: any) => c.type === "Ready")?.lastTransitionTime ?? 0),
        ),
      );
      const perSecond = new Map<number, number>();
      for (const p of podsNow.items) {
        const sec = Math.floor((Date.parse(p.metadata.creationTimestamp) - Math.floor(started / 1000) * 1000) / 1000);
        perSecond.set(sec, (perSecond.get(sec) ?? 0) + 1);
      }
      log(
        `run ${run}: pods created per second: ${[...perSecond]
          .sort((a, b) => a[0] - b[0])
          .map(([k, v]) => `+${k}s ${v}`)
          .join(", ")}`,
      );
      log(
        `run ${run}: last pod created at +${fmt((lastCreated - started) / 1000, 1)} s, ` +
          `last pod ready at +${fmt((lastRunning - started) / 1000, 1)} s, ` +
          `all clusters Ready at +${fmt(t, 1)} s (timestamps to the second)`,
      );
      perPod.push((Bench.requests(after) - Bench.requests(before)) / totalPods);
      breakdown = Bench.breakdown(before, after, totalPods);
      const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
      const latency = (verb: string) => {
        const n = delta(`ray_operator_api_request_duration_seconds_count{verb="${verb}"}`);
        return n ? (delta(`ray_operator_api_request_duration_seconds_sum{verb="${verb}"}`) / n) * 1000 : NaN;
      };
      const reconciles = delta("ray_operator_reconcile_duration_seconds_count");
      const reconcileMs = (delta("ray_operator_reconcile_duration_seconds_sum") / reconciles) * 1000;
      log(`run ${run}: ${reconciles} reconciles, mean ${fmt(reconcileMs, 0)} ms`);
      log(`run ${run}: mean API latency: create ${fmt(latency("create"), 0)} ms, patch ${fmt(latency("patch"), 0)} ms`);
      log(
        `run ${run}: requests per pod by kind: ${Object.entries(breakdown)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(", ")}`,
      );
      const mem = await b.memory();
      rss1000.push(mem.rssMb);
      heap1000.push(mem.heapMb);
      log(
        `run ${run}: operator ${fmt(t)} s to Ready for ${CLUSTERS} clusters, ` +
          `${fmt(perPod[perPod.length - 1])} requests/pod, RSS ${fmt(mem.rssMb, 1)} MB`,
      );
      log(`run ${run}: operator at ${totalPods} pods: heap ${fmt(mem.heapMb, 1)} MB`);

      // Quiet at steady state: writes over QUIET_SECONDS.
      await sleep(2000);
      const q0 = Bench.requests(await b.metrics(), ["create", "update", "patch", "delete"]);
      await sleep(QUIET_SECONDS * 1000);
      const q1 = Bench.requests(await b.metrics(), ["create", "update", "patch", "delete"]);
      quiet.push(q1 - q0);
      log(`run ${run}: ${q1 - q0} API writes in ${QUIET_SECONDS} s at steady state`);
      await b.clean();
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
      await runFloor(`after run ${run}`);
      const ratio = t / ((floors[run - 1] + floors[run]) / 2);
      ratios.push(ratio);
      log(
        `run ${run}: convergence ratio ${fmt(ratio)} ` +
          `(operator ${fmt(t)} s, floors ${fmt(floors[run - 1])} s before and ${fmt(floors[run])} s after)`,
      );
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
    if (ONLY !== "convergence") await b.startOperator();
    for (let run = 1; run <= (ONLY === "convergence" ? 0 : RUNS); run++) {
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
      let t0: number;

      const big = benchCluster(`big-${run}`, b.ns, 0, BIG_WORKERS);
      await b.createClusters([big]);
      await b.waitReady([big.metadata.name!]);
      const current = await b.admin.get<any>(
        `/apis/${GROUP}/${VERSION}/namespaces/${b.ns}/${PLURAL}/${big.metadata.name}`,
      );
      current.spec.podTypes[1].minWorkers = BIG_WORKERS;
      const tBig = Date.now();
      await b.admin.request("PUT", `/apis/${GROUP}/${VERSION}/namespaces/${b.ns}/${PLURAL}/${big.metadata.name}`, {
        body: current,
      });
      await sleep(200); // the scale-up is under way
      const s2 = benchCluster(`small-b-${run}`, b.ns, 1);
      t0 = Date.now();
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

    const s = (xs: number[]) => summarize(xs);
    const convS = s(conv);
    const floorS = s(floors);
    const ratioS = s(ratios);
    const isoS = s(loaded.map((l, i) => l / alone[i]));
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
    mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
    const file = join(ROOT, "bench", "results", `${results.date.slice(0, 10)}.json`);
    writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
    console.log(`\nwrote ${file}`);
    console.log(`convergence_ratio: ${fmt(ratioS.median)}`);
    console.log(`isolation_ratio: ${fmt(isoS.median)}`);
    console.log(`rss_mb_at_1000_pods: ${fmt(s(rss1000).median, 1)}`);
    console.log(`steady_writes_60s: ${s(quiet).median}`);
    console.log(`requests_per_pod: ${fmt(s(perPod).median)}`);
    if (BASELINE) {
      // Each run's figure against the baseline's in the same run, then the median of those ratios.
      const ratio = (a: number[], b: number[]) => s(a.map((x, i) => x / b[i])).median;
      console.log(`rss_mb_at_0_pods: ${fmt(s(rss0).median, 1)} (baseline ${fmt(s(baseline.rss0).median, 1)})`);
      console.log(`rss_vs_baseline_at_0_pods: ${fmt(ratio(rss0, baseline.rss0))}`);
      console.log(`rss_vs_baseline_at_1000_pods: ${fmt(ratio(rss1000, baseline.rss1000))}`);
      console.log(`convergence_vs_baseline: ${fmt(ratio(conv, baseline.conv))}`);
      const cpuNow = cpu.convergence.map((c) => c.operator);
      console.log(`operator_cpu_s: ${fmt(s(cpuNow).median, 1)} (baseline ${fmt(s(baseline.cpu).median, 1)})`);
    }
  } finally {
    await b.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
