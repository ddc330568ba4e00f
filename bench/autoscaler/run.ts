// Benchmark of the operator's autoscaler, in two parts.
//
// The scheduler (operator/autoscaler/scheduler.ts, `decide`) against Ray's own
// (ResourceDemandScheduler.get_nodes_to_launch, Ray's Python from the cached venv) on the same large
// inputs, in the same run: 10,000 pending requests, 10 node types, 1,000 nodes, several shapes of
// input (bench/autoscaler/cases.ts). Medians of several runs each, and the nodes each one asks for.
//
// Then the whole autoscaler pass (pass.ts): read the head's GCS over gRPC, decide, report, status, for
// a RayCluster of 1,000 Ray nodes with 10,000 pending requests, against a fake GCS serving the state a
// real Ray head's GCS sent, scaled up; and the loop with 100 such clusters, on its period or not.
//
//   npm run bench:autoscaler            # BENCH_RUNS=15 RAY_RUNS=3 by default; pass.ts has its own settings
//   BENCH_ONLY=scheduler|pass npm run bench:autoscaler
//
// Prints `speedup_vs_ray: <x> extra_nodes_vs_ray: <n>`: x is the smallest per-case ratio of Ray's
// median to ours (the worst case, not an average), n the number of nodes we ask for beyond what Ray
// asks for, summed over cases (0: never more than Ray). Ends with `autoscaler_pass_s_at_1000_nodes: <s>`,
// the median time of one pass.
import { execFileSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { performance } from "perf_hooks";
import { decide, Decision } from "../../operator/autoscaler/scheduler";
import { benchCases } from "./cases";
import { passBenchAsOperator, passBenchOptions, quantile } from "./pass";

const REPO = resolve(__dirname, "../..");
const OUR_RUNS = Number(process.env.BENCH_RUNS ?? 15);
const RAY_RUNS = Number(process.env.RAY_RUNS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const total = (launch: Record<string, number>) => Object.values(launch).reduce((a, b) => a + b, 0);
const fmt = (launch: Record<string, number>) =>
  Object.entries(launch)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}:${v}`)
    .join(" ") || "-";

interface RayResult {
  median_ms: number;
  times_ms: number[];
  launch: Record<string, number>;
  unfulfilled: number;
}

function scheduler(): void {
  const venv = execFileSync("bash", [join(REPO, "scripts/toolchain/ray.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop()!
    .trim();
  const rayVersion = execFileSync(join(venv, "bin/python"), ["-c", "import ray; print(ray.__version__)"], {
    encoding: "utf8",
  }).trim();
  const cases = benchCases();
  console.log(
    `autoscaler scheduler benchmark: ${cases.length} cases; ours: median of ${OUR_RUNS} runs (after 3 warm-up); ` +
      `Ray ${rayVersion} (Python): median of ${RAY_RUNS}`,
  );
  for (const c of cases) {
    const requests =
      c.input.demands.reduce((a, d) => a + d.count, 0) + c.input.gangs.reduce((a, g) => a + g.bundles.length, 0);
    console.log(
      `  ${c.name.padEnd(26)} ${c.input.types.length} types, ${c.input.nodes.length} nodes, ` +
        `${requests} requests: ${c.about}`,
    );
  }

  // Ours first (in this process), then Ray's on the same inputs (one Python process).
  const ours = new Map<string, { median: number; decision: Decision }>();
  for (const c of cases) {
    let decision = decide(c.input);
    for (let i = 0; i < 2; i++) decide(c.input);
    const times: number[] = [];
    for (let i = 0; i < OUR_RUNS; i++) {
      const t0 = performance.now();
      decision = decide(c.input);
      times.push(performance.now() - t0);
    }
    ours.set(c.name, { median: median(times), decision });
  }

  const dir = mkdtempSync(join(tmpdir(), "autoscaler-bench-"));
  let ray: Record<string, RayResult>;
  try {
    const file = join(dir, "cases.json");
    writeFileSync(file, JSON.stringify(cases.map((c) => ({ name: c.name, input: c.input, runs: RAY_RUNS }))));
    ray = JSON.parse(
      execFileSync(join(venv, "bin/python"), [join(__dirname, "ray_scheduler.py"), file], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, RAY_USAGE_STATS_ENABLED: "0" },
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log("");
  console.log(
    `${"case".padEnd(26)} ${"ours ms".padStart(9)} ${"ray ms".padStart(10)} ` +
      `${"speedup".padStart(8)} ${"nodes".padStart(6)} ${"ray".padStart(6)}  same choice`,
  );
  let minSpeedup = Infinity;
  let extraNodes = 0;
  for (const c of cases) {
    const o = ours.get(c.name)!;
    const r = ray[c.name];
    const speedup = r.median_ms / o.median;
    minSpeedup = Math.min(minSpeedup, speedup);
    const n = total(o.decision.launch);
    const rn = total(r.launch);
    extraNodes += Math.max(0, n - rn);
    const same = fmt(o.decision.launch) === fmt(r.launch);
    const speedupCell = (speedup.toFixed(0) + "x").padStart(8);
    console.log(
      `${c.name.padEnd(26)} ${o.median.toFixed(2).padStart(9)} ${r.median_ms.toFixed(1).padStart(10)} ` +
        `${speedupCell} ${String(n).padStart(6)} ${String(rn).padStart(6)}  ${same ? "yes" : "NO"}`,
    );
    if (!same) console.log(`    ours: ${fmt(o.decision.launch)}\n    ray:  ${fmt(r.launch)}`);
    else console.log(`    ${fmt(o.decision.launch)}`);
  }
  console.log("");
  console.log(`speedup_vs_ray: ${minSpeedup.toFixed(1)} extra_nodes_vs_ray: ${extraNodes}`);
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY;
  if (only && only !== "scheduler" && only !== "pass") throw new Error(`BENCH_ONLY: scheduler or pass, not ${only}`);
  if (only !== "pass") scheduler();
  if (only === "scheduler") return;
  console.log("");
  const options = passBenchOptions();
  const result = await passBenchAsOperator(options, (line) => console.log(line));
  console.log("");
  const lateness = result.loop.latenessMs;
  console.log(
    `autoscaler_loop_lateness_ms_with_${result.loop.clusters}_clusters: ` +
      `median ${quantile(lateness, 0.5).toFixed(0)} max ${Math.max(...lateness).toFixed(0)} ` +
      `cpu_share ${result.loop.cpuShare.toFixed(2)} failed_reads ${result.loop.failedReads}`,
  );
  console.log(`autoscaler_pass_s_at_${options.nodes}_nodes: ${(quantile(result.passMs, 0.5) / 1000).toFixed(3)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
