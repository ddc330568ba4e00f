// Isolation, the one procedure of both its parts (run.ts on simulated nodes, isolation-real.ts with real
// containers): a small cluster's time from create to Ready in its status, alone (the median of three,
// after one warm-up), then beside a big cluster on the simulated nodes scaling 0 -> `bigWorkers`
// started ~200 ms before it; each round's ratio is beside / alone. Where the small cluster's time went
// is taken from a watch on its pods, phase by phase.
import { GROUP, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { BenchCluster, log, sleep } from "./harness";
import { cpuDelta, fmtCpu } from "./proc";
import { fmt, summarize, Summary } from "./stats";
import { benchCluster } from "./workload";

/** Samples of the small cluster alone in each round (their median is the round's figure). */
const ALONE_SAMPLES = 3;

/**
 * Milliseconds from the small cluster's create until both its pods exist (the operator's pass and
 * the API server's creates), are bound to a node (the scheduler), have their containers running (the
 * node: sandbox, image, container start), are ready (the readiness probe: Ray runs), and from both
 * ready to Ready in its status (the operator).
 */
export interface Phases {
  created: number[];
  scheduled: number[];
  started: number[];
  ready: number[];
  statusReady: number[];
}

export interface IsolationFigures {
  /** Each round's median of the small cluster alone, in seconds. */
  alone: number[];
  /** Each round's small cluster beside the scale-up, in seconds. */
  beside: number[];
  /** Each round's beside / alone. */
  ratio: number[];
  /** The big cluster's 0 -> bigWorkers, edit to Ready (what isolation costs it), in seconds. */
  bigScaleUp: number[];
  alonePhases: Phases;
  besidePhases: Phases;
  /** CPU seconds by process during each measured sample alone, and during each beside (with `cpuSeconds`). */
  aloneCpu: Array<Record<string, number>>;
  besideCpu: Array<Record<string, number>>;
}

export interface IsolationOptions {
  /** Names the part in the log lines. */
  label: string;
  runs: number;
  bigWorkers: number;
  /** The small cluster: 1 head + 1 worker. */
  small: (name: string, namespace: string) => RayCluster;
  /**
   * Remove each small cluster once measured, and wait for this after every clean of the namespace
   * (real containers: until the node has stopped them, so that no sample pays for the last one's).
   */
  afterEachSample?: () => Promise<void>;
  /** CPU seconds used so far, by process (see cpuDelta): read before and after each sample. */
  cpuSeconds?: () => Record<string, number>;
}

const newPhases = (): Phases => ({ created: [], scheduled: [], started: [], ready: [], statusReady: [] });
const PHASES = ["created", "scheduled", "started", "ready"] as const;

/** The phases of one sample, from the marks of `BenchCluster.trace`: each when both pods have reached it. */
function phasesOf(marks: Map<string, number>, totalMs: number): Record<keyof Phases, number> {
  const at = (what: string) => Math.max(marks.get(`head ${what}`) ?? NaN, marks.get(`worker ${what}`) ?? NaN);
  const [created, scheduled, started, ready] = PHASES.map(at);
  return { created, scheduled, started, ready, statusReady: totalMs - ready };
}

interface Sample {
  ms: number;
  marks: Map<string, number>;
  cpu: Record<string, number>;
}

/** One small cluster from create to Ready: its time in ms, its phases and the CPU it took (and what else did). */
async function smallToReady(b: BenchCluster, rc: RayCluster, o: IsolationOptions): Promise<Sample> {
  const cpu0 = o.cpuSeconds?.() ?? {};
  const t0 = Date.now();
  const timeline = b.trace(rc.metadata.name!, t0);
  await b.createClusters([rc]);
  await b.waitReady([rc.metadata.name!]);
  const ms = Date.now() - t0;
  const cpu = cpuDelta(cpu0, o.cpuSeconds?.() ?? {});
  return { ms, marks: await timeline(), cpu };
}

const fmtSample = ({ marks, ms, cpu }: Sample) =>
  `${[...marks].map(([k, v]) => `${k} +${v} ms`).join(", ")}, Ready +${ms} ms` +
  (Object.keys(cpu).length ? `; CPU s: ${fmtCpu(cpu)}` : "");

export async function measureIsolation(b: BenchCluster, o: IsolationOptions): Promise<IsolationFigures> {
  const f: IsolationFigures = {
    alone: [],
    beside: [],
    ratio: [],
    bigScaleUp: [],
    alonePhases: newPhases(),
    besidePhases: newPhases(),
    aloneCpu: [],
    besideCpu: [],
  };
  const add = (to: Phases, p: Record<keyof Phases, number>) => {
    for (const k of Object.keys(to) as Array<keyof Phases>) to[k].push(p[k]);
  };
  const clean = async () => {
    await b.clean();
    await o.afterEachSample?.();
  };
  for (let run = 1; run <= o.runs; run++) {
    // Alone: each run's figure is the median of three (after one warm-up on the first run).
    const samples: number[] = [];
    const runPhases = newPhases();
    for (let i = run === 1 ? 0 : 1; i <= ALONE_SAMPLES; i++) {
      const sample = await smallToReady(b, o.small(`small-a-${run}-${i}`, b.ns), o);
      log(`${o.label}, run ${run}: small cluster alone${i === 0 ? " (warm-up)" : ""}: ${fmtSample(sample)}`);
      if (o.afterEachSample) await clean();
      if (i === 0) continue;
      samples.push(sample.ms / 1000);
      add(runPhases, phasesOf(sample.marks, sample.ms));
      f.aloneCpu.push(sample.cpu);
    }
    f.alone.push(summarize(samples).median);
    for (const k of Object.keys(runPhases) as Array<keyof Phases>)
      f.alonePhases[k].push(summarize(runPhases[k]).median);

    const big = benchCluster(`big-${run}`, b.ns, 0, o.bigWorkers);
    await b.createClusters([big]);
    await b.waitReady([big.metadata.name!]);
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${b.ns}/${PLURAL}/${big.metadata.name}`;
    const current = await b.admin.get<RayCluster>(path);
    current.spec.podTypes[1].minWorkers = o.bigWorkers;
    const tBig = Date.now();
    await b.admin.request("PUT", path, { body: current });
    await sleep(200); // the scale-up is under way
    const sample = await smallToReady(b, o.small(`small-b-${run}`, b.ns), o);
    f.beside.push(sample.ms / 1000);
    log(`${o.label}, run ${run}: small cluster beside the scale-up: ${fmtSample(sample)}`);
    add(f.besidePhases, phasesOf(sample.marks, sample.ms));
    f.besideCpu.push(sample.cpu);
    await b.waitReady([big.metadata.name!]);
    f.bigScaleUp.push((Date.now() - tBig) / 1000);
    f.ratio.push(f.beside[run - 1] / f.alone[run - 1]);
    log(
      `${o.label}, run ${run}: big cluster 0 -> ${o.bigWorkers} workers Ready in ${fmt(f.bigScaleUp[run - 1])} s; ` +
        `small cluster Ready in ${fmt(f.alone[run - 1])} s alone, ${fmt(f.beside[run - 1])} s beside it: ` +
        `ratio ${fmt(f.ratio[run - 1])}`,
    );
    await clean();
  }
  return f;
}

/** The figures as the results file holds them. */
export function isolationResults(f: IsolationFigures): Record<string, unknown> {
  const s = summarize;
  const phases = (p: Phases) => ({
    bothPodsCreated: s(p.created),
    bothPodsScheduled: s(p.scheduled),
    bothContainersRunning: s(p.started),
    bothPodsReady: s(p.ready),
    podsReadyToClusterReady: s(p.statusReady),
  });
  const cpu = (samples: Array<Record<string, number>>) =>
    Object.fromEntries(Object.keys(samples[0] ?? {}).map((k) => [k, s(samples.map((c) => c[k]))]));
  return {
    aloneSeconds: s(f.alone),
    besideScaleUpSeconds: s(f.beside),
    ratio: s(f.ratio),
    bigScaleUpSeconds: s(f.bigScaleUp),
    aloneMs: phases(f.alonePhases),
    besideScaleUpMs: phases(f.besidePhases),
    ...(f.besideCpu.some((c) => Object.keys(c).length)
      ? { aloneCpuSeconds: cpu(f.aloneCpu), besideScaleUpCpuSeconds: cpu(f.besideCpu) }
      : {}),
  };
}

/** A row of the final table: figure, summary, target, met or missed. */
export type Row = [string, Summary, string, string];

/** The figures as rows of the final table, `name` before each, the ratio against `target`. */
export function isolationRows(f: IsolationFigures, name: string, bigWorkers: number, target: number): Row[] {
  const s = summarize;
  const ratio = s(f.ratio);
  const phaseRows = (side: string, p: Phases): Row[] => [
    [`  ${side}: pods created (ms)`, s(p.created), "", ""],
    [`  ${side}: pods scheduled (ms)`, s(p.scheduled), "", ""],
    [`  ${side}: containers running (ms)`, s(p.started), "", ""],
    [`  ${side}: pods ready (ms)`, s(p.ready), "", ""],
    [`  ${side}: ready -> Ready (ms)`, s(p.statusReady), "", ""],
  ];
  return [
    [`${name}, alone (s)`, s(f.alone), "", ""],
    [`${name}, beside scale-up (s)`, s(f.beside), "", ""],
    ...phaseRows("alone", f.alonePhases),
    ...phaseRows("beside", f.besidePhases),
    [`  big cluster 0 -> ${bigWorkers} (s)`, s(f.bigScaleUp), "", ""],
    [`${name} ratio`, ratio, `<= ${target}`, ratio.median <= target ? "met" : "missed"],
  ];
}
