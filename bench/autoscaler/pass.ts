// Benchmark: one whole autoscaler pass of the operator (AutoscalerLoop: read the head's GCS over gRPC,
// decide, drain, report to Ray, the status and the log) for a RayCluster of 1,000 Ray nodes with
// 10,000 pending requests; then the loop with 100 such clusters, and whether each cluster's pass
// still starts on its period.
//
// The GCS side is a gRPC server in a process of its own (fake-gcs.ts) serving the state a real Ray
// head's GCS sent (recorded by record.ts) scaled up to that size (scale.ts): Ray's own messages.
// The Kubernetes side is in memory (BenchController): the RayClusters and their pods as the
// operator's cache holds them (built by the operator's own buildPod, trimmed by cachedPod), and a
// status writer that keeps what the reconciler would write. No reconciler runs: the pass is measured
// on its own, not the pod creates it asks for.
//
// The measuring process runs with the operator image's own node arguments (its ENTRYPOINT in
// operator/Dockerfile: a 1 MB young generation, which sets how much a pass's garbage costs), as a child
// of the benchmark, like the fake GCS.
//
//   npx ts-node bench/autoscaler/pass.ts      # alone; `npm run bench:autoscaler` runs it after the scheduler
//
// Settings: BENCH_PASS_RUNS (15 passes measured, after 3 warm-up), BENCH_LOOP_CLUSTERS (100),
// BENCH_LOOP_SECONDS (60), BENCH_PASS_NODES (1000), BENCH_PASS_DEMANDS (10000).
import { fork } from "child_process";
import { join } from "path";
import { monitorEventLoopDelay, performance } from "perf_hooks";
import { setImmediate as nextTurn } from "timers/promises";
import { RayCluster } from "../../api/v1/types";
import { defaulted } from "../../api/v1/defaults";
import { buildPod } from "../../builders/pod";
import { AutoscalerReport } from "../../operator/controller/raycluster-controller";
import { cachedPod, ownedBy, Pod } from "../../operator/controller/pods";
import { keyOf, Stored } from "../../operator/kube/informer";
import { GcsApi, schedulerInput } from "../../operator/autoscaler/autoscaler";
import {
  AutoscalingStateReport,
  ClusterResourceState,
  DrainNodeArgs,
  DrainNodeResult,
  GcsAutoscalerClient,
} from "../../operator/autoscaler/gcs-client";
import { observedFromGcs } from "../../operator/autoscaler/gcs-input";
import { AutoscalerController, AutoscalerLoop, autoscalingSpec } from "../../operator/autoscaler/loop";
import { decide } from "../../operator/autoscaler/scheduler";
import { OPERATOR_DEFAULTS } from "../../builders/operator-workload";
import { OperatorMetrics } from "../../operator/server/metrics";
import { createLogger } from "../../operator/util/log";
import { imageNodeArgs } from "../../scripts/operator-process";
import type { FakeGcsCommand, FakeGcsMessage, FakeGcsSpec } from "./fake-gcs";
import { passCluster } from "./pass-cluster";
import { readRecording, scaledCluster, ScaledPod, scaledPods } from "./scale";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PassBenchOptions {
  nodes: number;
  demands: number;
  passRuns: number;
  warmup: number;
  loopClusters: number;
  loopSeconds: number;
  /** The operator's default period (AUTOSCALER_INTERVAL_SECONDS). */
  intervalSeconds: number;
}

export function passBenchOptions(env: NodeJS.ProcessEnv = process.env): PassBenchOptions {
  return {
    nodes: Number(env.BENCH_PASS_NODES ?? 1000),
    demands: Number(env.BENCH_PASS_DEMANDS ?? 10_000),
    passRuns: Number(env.BENCH_PASS_RUNS ?? 15),
    warmup: 3,
    loopClusters: Number(env.BENCH_LOOP_CLUSTERS ?? 100),
    loopSeconds: Number(env.BENCH_LOOP_SECONDS ?? 60),
    intervalSeconds: OPERATOR_DEFAULTS.autoscalerIntervalSeconds,
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
}

const median = (xs: number[]) => quantile(xs, 0.5);
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 1 : 0) : "-");
/** `median (min–max)` in ms. */
const spread = (xs: number[]) => `${ms(median(xs))} ms (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;

// ---------------------------------------------------------------------------------------------
// The Kubernetes side, in memory
// ---------------------------------------------------------------------------------------------

/** A cluster's pods as the cache holds them: built by buildPod, running and ready, trimmed by cachedPod. */
function cachedPods(rc: Stored<RayCluster>, pods: ScaledPod[]): Pod[] {
  const cluster = defaulted(rc);
  const head = pods.find((p) => p.kind === "head")!;
  const templates = new Map<string, Pod>();
  return pods.map((p, index) => {
    const templateKey = `${p.kind}/${p.type}`;
    let template = templates.get(templateKey);
    if (!template) {
      const built = buildPod(cluster, p.type, p.kind, { name: p.name, headPodName: head.name });
      template = cachedPod({
        ...built,
        metadata: { ...built.metadata, name: p.name, uid: "", creationTimestamp: "2026-01-01T00:00:00Z" },
        spec: { ...built.spec, nodeName: "node-1" },
        status: {
          phase: "Running",
          podIP: "10.0.0.1",
          conditions: [
            { type: "PodScheduled", status: "True" },
            { type: "Ready", status: "True" },
          ],
        },
      });
      templates.set(templateKey, template);
    }
    return {
      ...template,
      metadata: { ...template.metadata, name: p.name, uid: `${rc.metadata.uid}-${index}`, resourceVersion: "1" },
    };
  });
}

/**
 * What the loop needs of the controller, in memory: the cached RayClusters and pods, and a status
 * writer that does what the reconciler's write would (status.autoscaler replaced, the cached object
 * updated). It tells the benchmark when a cluster's report arrives.
 */
class BenchController implements AutoscalerController {
  private readonly cached = new Map<string, { rc: Stored<RayCluster>; pods: Pod[] }>();
  private readonly reports = new Map<string, AutoscalerReport>();
  private readonly waiting = new Map<string, Array<(report: AutoscalerReport) => void>>();
  statusWrites = 0;
  readonly clusters = { list: () => [...this.cached.values()].map((c) => c.rc) };

  add(rc: Stored<RayCluster>, pods: Pod[]): void {
    this.cached.set(keyOf(rc), { rc, pods });
  }

  podsOf(rc: RayCluster): Pod[] {
    return (this.cached.get(keyOf({ metadata: { ...rc.metadata, name: rc.metadata.name! } }))?.pods ?? []).filter(
      (pod) => ownedBy(pod, rc),
    );
  }

  drainingOf(rc: Stored<RayCluster>): string[] {
    return this.reports.get(keyOf(rc))?.draining ?? rc.status?.autoscaler?.draining ?? [];
  }

  async persistDraining(key: string, draining: string[], targets: Record<string, number>): Promise<void> {
    const report = this.reports.get(key) ?? { intent: {} };
    this.reports.set(key, { ...report, intent: { ...report.intent, targets }, draining });
    this.writeStatus(key, { ...this.cached.get(key)!.rc.status?.autoscaler, draining });
  }

  report(key: string, report: AutoscalerReport): void {
    this.reports.set(key, report);
    if (report.status) this.writeStatus(key, report.status);
    for (const resolve of this.waiting.get(key)?.splice(0) ?? []) resolve(report);
  }

  /** Resolves with the cluster's next report, once the pass that made it has returned. */
  async nextReport(key: string): Promise<AutoscalerReport> {
    const report = await new Promise<AutoscalerReport>((resolve) =>
      this.waiting.set(key, [...(this.waiting.get(key) ?? []), resolve]),
    );
    // After its report a pass only logs (synchronously); its promise settles before the next turn.
    await nextTurn();
    return report;
  }

  private writeStatus(key: string, autoscaler: NonNullable<RayCluster["status"]>["autoscaler"]): void {
    const entry = this.cached.get(key)!;
    if (JSON.stringify(entry.rc.status?.autoscaler) === JSON.stringify(autoscaler)) return;
    this.statusWrites++;
    entry.rc = { ...entry.rc, status: { ...entry.rc.status, autoscaler } };
  }
}

// ---------------------------------------------------------------------------------------------
// The GCS side: a forked fake GCS, and the operator's own client timed around its calls
// ---------------------------------------------------------------------------------------------

interface PassTimes {
  readStart: number;
  readEnd?: number;
  readFailed?: boolean;
  reportStart?: number;
  reportEnd?: number;
}

/** The operator's GcsAutoscalerClient, with the time of each call noted (the calls go through untouched). */
class TimedGcs implements GcsApi {
  readonly passes: PassTimes[] = [];
  drains = 0;

  constructor(private readonly client: GcsAutoscalerClient) {}

  async getClusterResourceState(opts?: { lastSeenVersion?: number }): Promise<ClusterResourceState> {
    const times: PassTimes = { readStart: performance.now() };
    this.passes.push(times);
    try {
      return await this.client.getClusterResourceState(opts);
    } catch (e) {
      times.readFailed = true;
      throw e;
    } finally {
      times.readEnd = performance.now();
    }
  }

  async reportAutoscalingState(report: AutoscalingStateReport): Promise<void> {
    const times = this.passes[this.passes.length - 1];
    times.reportStart = performance.now();
    try {
      await this.client.reportAutoscalingState(report);
    } finally {
      times.reportEnd = performance.now();
    }
  }

  drainNode(args: DrainNodeArgs): Promise<DrainNodeResult> {
    this.drains++;
    return this.client.drainNode(args);
  }

  disconnect(): void {
    this.client.disconnect();
  }

  close(): void {
    this.client.close();
  }
}

interface FakeGcsProcess {
  addresses: string[];
  replyBytes: number;
  placementGroups: number;
  buildMs: number;
  stats(): Promise<Extract<FakeGcsMessage, { kind: "stats" }>>;
  stop(): Promise<void>;
}

/** Forks fake-gcs.ts with one server per cluster; resolves once every server listens. */
async function startFakeGcs(spec: FakeGcsSpec): Promise<FakeGcsProcess> {
  const child = fork(join(__dirname, "fake-gcs.ts"), [JSON.stringify(spec)], {
    execArgv: ["-r", "ts-node/register/transpile-only"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = <K extends FakeGcsMessage["kind"]>(kind: K) =>
    new Promise<Extract<FakeGcsMessage, { kind: K }>>((resolve, reject) => {
      const onMessage = (m: FakeGcsMessage) => {
        if (m.kind !== kind) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(m as Extract<FakeGcsMessage, { kind: K }>);
      };
      const onExit = (code: number | null) => reject(new Error(`the fake GCS exited (${code})`));
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  const send = (command: FakeGcsCommand) => child.send(command);
  const ready = await next("ready");
  return {
    ...ready,
    stats: () => {
      const reply = next("stats");
      send({ kind: "stats" });
      return reply;
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      send({ kind: "stop" });
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

export interface PassBenchResult {
  /** One pass at `nodes` nodes: each measured pass, ms. */
  passMs: number[];
  /** decide() alone on the same input, ms (median). */
  decideMs: number;
  loop: {
    clusters: number;
    passes: number;
    expectedPasses: number;
    failedReads: number;
    latenessMs: number[];
    /** Start to start of a cluster's consecutive passes. */
    cycleMs: number[];
    /** Lateness of the passes started after the first two periods (the start-up burst left out). */
    steadyLatenessMs: number[];
    durationMs: number[];
    cpuShare: number;
  };
}

const quietLog = () => {
  let lines = 0;
  return { log: createLogger("info", () => void lines++), lines: () => lines };
};

export async function passBench(opts: PassBenchOptions, print: (line: string) => void): Promise<PassBenchResult> {
  const recording = readRecording();
  const names = Array.from({ length: opts.loopClusters }, (_, i) => `pass-${String(i).padStart(3, "0")}`);
  const scaled = scaledCluster(recording, names[0], opts.nodes, opts.demands);
  const state = scaled.reply.clusterResourceState!;
  const session = recording.state.clusterResourceState?.clusterSessionName ?? "";
  const typesOf = (pods: ScaledPod[]) =>
    [...new Set(pods.filter((p) => p.kind === "worker").map((p) => p.type))].join(", ");
  const taskDemand = state.pendingResourceRequests.reduce((a, r) => a + Number(r.count), 0);
  const fake = await startFakeGcs({ clusters: names, nodes: opts.nodes, demands: opts.demands });
  try {
    print(
      `autoscaler pass benchmark: a RayCluster of ${opts.nodes} Ray nodes (the head, ${opts.nodes - 1} workers: ` +
        `${typesOf(scaled.pods)}), ${opts.demands} pending requests (${taskDemand} tasks/actors over ` +
        `${state.pendingResourceRequests.length} shapes, ${opts.demands - taskDemand} bundles in ` +
        `${scaled.placementGroups} placement groups) and request_resources()`,
    );
    print(
      `  the state a real Ray head's GCS sent (bench/autoscaler/recorded/, session ${session}), scaled up; ` +
        `served over gRPC by a fake GCS process (${(fake.replyBytes / 2 ** 20).toFixed(2)} MiB per ` +
        `GetClusterResourceState reply; ${fake.addresses.length} servers, built in ` +
        `${(fake.buildMs / 1000).toFixed(1)} s)`,
    );

    // One cluster: passes back to back, each started by the loop's own tick and ended by its report.
    const one = new BenchController();
    const rc0 = passCluster(names[0]);
    one.add(rc0, cachedPods(rc0, scaled.pods));
    const key0 = keyOf(rc0);
    let timed0: TimedGcs | undefined;
    const quiet = quietLog();
    const single = new AutoscalerLoop({
      controller: one,
      log: quiet.log,
      metrics: new OperatorMetrics(),
      // 0: every tick starts a pass (the benchmark ticks once per pass).
      intervalSeconds: 0,
      gcsOverrides: new Map([[key0, fake.addresses[0]]]),
      connect: (address) => (timed0 = new TimedGcs(new GcsAutoscalerClient({ address, timeoutMs: 5000 }))),
    });
    const passMs: number[] = [];
    const phases = { read: [] as number[], decide: [] as number[], report: [] as number[], after: [] as number[] };
    for (let i = 0; i < opts.warmup + opts.passRuns; i++) {
      const reported = one.nextReport(key0);
      const t0 = performance.now();
      single.tick();
      const report = await reported;
      const t1 = performance.now();
      if (report.unreachable) throw new Error(`the pass could not read the fake GCS: ${report.unreachable}`);
      if (i < opts.warmup) continue;
      const p = timed0!.passes[timed0!.passes.length - 1];
      passMs.push(t1 - t0);
      phases.read.push(p.readEnd! - t0);
      phases.decide.push(p.reportStart! - p.readEnd!);
      phases.report.push(p.reportEnd! - p.reportStart!);
      phases.after.push(t1 - p.reportEnd!);
    }
    single.stop();
    const report = one.clusters.list()[0].status?.autoscaler;

    // The scheduler alone, on the input this pass decided from.
    const direct = new GcsAutoscalerClient({ address: fake.addresses[0] });
    const observed = observedFromGcs(await direct.getClusterResourceState());
    direct.close();
    const workers = scaled.pods.filter((p) => p.kind === "worker").map((p) => ({ name: p.name, type: p.type }));
    const input = schedulerInput(autoscalingSpec(defaulted(rc0)), workers, observed.nodes, observed);
    const decideTimes: number[] = [];
    for (let i = 0; i < opts.warmup + opts.passRuns; i++) {
      const t0 = performance.now();
      decide(input);
      if (i >= opts.warmup) decideTimes.push(performance.now() - t0);
    }

    print(
      `  one pass (the loop's tick to the report it hands the controller), ${opts.passRuns} passes after ` +
        `${opts.warmup} warm-up: ${spread(passMs)}`,
    );
    print(
      `    read the GCS (gRPC, decode, typed state) ${ms(median(phases.read))} ms, decide and build the report ` +
        `${ms(median(phases.decide))} ms, ReportAutoscalingState ${ms(median(phases.report))} ms, ` +
        `status and log ${ms(median(phases.after))} ms (medians)`,
    );
    print(`    decide() alone on the same input (the scheduler-only figure): ${ms(median(decideTimes))} ms`);
    print(
      `    the decision: nodeRequests ${JSON.stringify(report?.nodeRequests ?? {})}, ` +
        `${report?.infeasible?.length ?? 0} infeasible shapes, targets ${JSON.stringify(report?.targetWorkers ?? {})}`,
    );

    // The loop: every cluster on the operator's period, passes started by the loop's own 250 ms ticker.
    const many = new BenchController();
    const overrides = new Map<string, string>();
    for (const [i, name] of names.entries()) {
      const rc = passCluster(name);
      const pods = scaledPods(recording, name, opts.nodes);
      many.add(rc, cachedPods(rc, pods));
      overrides.set(keyOf(rc), fake.addresses[i]);
    }
    const timed: TimedGcs[] = [];
    const loop = new AutoscalerLoop({
      controller: many,
      log: quietLog().log,
      metrics: new OperatorMetrics(),
      intervalSeconds: opts.intervalSeconds,
      gcsOverrides: overrides,
      connect: (address) => {
        const client = new TimedGcs(new GcsAutoscalerClient({ address, timeoutMs: 5000 }));
        timed.push(client);
        return client;
      },
    });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    loop.start();
    await sleep(opts.loopSeconds * 1000);
    loop.stop();
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - wall0;
    delay.disable();
    await sleep(1000); // passes in flight end (their clients are closed)

    const interval = opts.intervalSeconds * 1000;
    const latenessMs: number[] = [];
    const cycleMs: number[] = [];
    const durationMs: number[] = [];
    // The same after the first two periods (the loop spreads the clusters' first passes over the first).
    const steady = { latenessMs: [] as number[], cycleMs: [] as number[], durationMs: [] as number[] };
    const steadyFrom = wall0 + 2 * interval;
    let passes = 0;
    let failedReads = 0;
    for (const client of timed) {
      for (const [k, p] of client.passes.entries()) {
        if (p.readFailed) failedReads++;
        if (p.reportEnd === undefined || p.readFailed) continue;
        passes++;
        const inSteady = p.readStart >= steadyFrom;
        durationMs.push(p.reportEnd - p.readStart);
        if (inSteady) steady.durationMs.push(p.reportEnd - p.readStart);
        const before = client.passes[k - 1];
        if (!before) continue;
        cycleMs.push(p.readStart - before.readStart);
        if (inSteady) steady.cycleMs.push(p.readStart - before.readStart);
        // Due: the loop schedules the next pass an interval after this one's report (nextAt).
        if (before.reportEnd !== undefined && !before.readFailed) {
          latenessMs.push(p.readStart - (before.reportEnd + interval));
          if (inSteady) steady.latenessMs.push(p.readStart - (before.reportEnd + interval));
        }
      }
    }
    // Each cluster's first pass starts within the first period (the loop spreads them over it), the
    // next ones an interval after the last ended.
    const meanDuration = durationMs.reduce((a, b) => a + b, 0) / Math.max(1, durationMs.length);
    let expectedPasses = 0;
    const firstStarts: number[] = [];
    for (const client of timed) {
      const first = client.passes[0]?.readStart ?? wall0;
      firstStarts.push(first - wall0);
      expectedPasses += 1 + Math.floor((opts.loopSeconds * 1000 - (first - wall0)) / (interval + meanDuration));
    }
    const cpuShare = (cpu.user + cpu.system) / 1000 / wall;
    const served = await fake.stats();
    print(
      `  the loop: ${names.length} such clusters, one pass each every ${opts.intervalSeconds} s ` +
        `(AUTOSCALER_INTERVAL_SECONDS), for ${opts.loopSeconds} s: ${passes} passes completed ` +
        `(${expectedPasses} on a loop that keeps its period), ${failedReads} failed reads; ` +
        `the fake GCS served ${served.calls.GetClusterResourceState ?? 0} states, ` +
        `${served.reportsDecoded} reports`,
    );
    print(
      `    first passes started ${ms(Math.min(...firstStarts))}–${ms(Math.max(...firstStarts))} ms after the loop ` +
        `started (spread over the first period)`,
    );
    print(
      `    a pass starts after its due time by (lateness; the loop ticks every 250 ms): ` +
        `median ${ms(median(latenessMs))} ms, p95 ${ms(quantile(latenessMs, 0.95))} ms, ` +
        `max ${ms(Math.max(...latenessMs))} ms (${latenessMs.length} passes after each cluster's first)`,
    );
    print(
      `    start to start of a cluster's passes: median ${ms(median(cycleMs))} ms, ` +
        `p95 ${ms(quantile(cycleMs, 0.95))} ms, max ${ms(Math.max(...cycleMs))} ms (the period: ${interval} ms ` +
        `after the previous pass ends)`,
    );
    print(
      `    after the first two periods (${steady.latenessMs.length} passes): lateness median ` +
        `${ms(median(steady.latenessMs))} ms, max ${ms(Math.max(...steady.latenessMs))} ms; start to start median ` +
        `${ms(median(steady.cycleMs))} ms, max ${ms(Math.max(...steady.cycleMs))} ms; a pass (read to report) ` +
        `median ${ms(median(steady.durationMs))} ms, max ${ms(Math.max(...steady.durationMs))} ms`,
    );
    print(
      `    a pass under that load (read to report): median ${ms(median(durationMs))} ms, ` +
        `p95 ${ms(quantile(durationMs, 0.95))} ms, max ${ms(Math.max(...durationMs))} ms; ` +
        `operator process CPU ${(cpuShare * 100).toFixed(0)}% of one core; event loop delay ` +
        `p50 ${ms(delay.percentile(50) / 1e6)} ms, p99 ${ms(delay.percentile(99) / 1e6)} ms, ` +
        `max ${ms(delay.max / 1e6)} ms`,
    );
    return {
      passMs,
      decideMs: median(decideTimes),
      loop: {
        clusters: names.length,
        passes,
        expectedPasses,
        failedReads,
        latenessMs,
        cycleMs,
        durationMs,
        steadyLatenessMs: steady.latenessMs,
        cpuShare,
      },
    };
  } finally {
    await fake.stop();
  }
}

/** Messages from the measuring child to the benchmark. */
type ChildMessage = { kind: "line"; line: string } | { kind: "result"; result: PassBenchResult };

const CHILD_ENV = "AUTOSCALER_PASS_BENCH";

/**
 * Runs passBench in a child process started with the operator image's node arguments, printing its
 * lines as they come; resolves with its result.
 */
export async function passBenchAsOperator(
  opts: PassBenchOptions,
  print: (line: string) => void,
): Promise<PassBenchResult> {
  const nodeArgs = imageNodeArgs();
  print(`(measured in a process started as the operator's image starts it: node ${nodeArgs.join(" ")})`);
  const child = fork(__filename, [], {
    execArgv: [...nodeArgs, "-r", "ts-node/register/transpile-only"],
    env: { ...process.env, [CHILD_ENV]: JSON.stringify(opts) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let result: PassBenchResult | undefined;
    child.on("message", (m: ChildMessage) => {
      if (m.kind === "line") print(m.line);
      else result = m.result;
    });
    child.once("exit", (code) =>
      result ? resolve(result) : reject(new Error(`the pass benchmark's process exited (${code})`)),
    );
  });
}

if (require.main === module) {
  const childOptions = process.env[CHILD_ENV];
  if (childOptions) {
    passBench(JSON.parse(childOptions) as PassBenchOptions, (line) => process.send!({ kind: "line", line }))
      .then((result) => process.send!({ kind: "result", result }, () => process.disconnect()))
      .catch((e) => {
        console.error(e);
        process.exit(1);
      });
  } else {
    passBenchAsOperator(passBenchOptions(), console.log)
      .then((r) => console.log(`autoscaler_pass_s_at_1000_nodes: ${(median(r.passMs) / 1000).toFixed(3)}`))
      .catch((e) => {
        console.error(e);
        process.exit(1);
      });
  }
}
