// Decision parity between the scheduler of the working tree and the one of an earlier commit: the same
// inputs to both `decide`s, every field of the decisions compared. For a change meant to make the
// scheduler faster without changing a choice (issue #15.5): run it with the commit before the change.
//
//   npx ts-node bench/autoscaler/parity.ts <commit> [random cases per family, 1000]
//   PARITY_IGNORE=infeasible npx ts-node bench/autoscaler/parity.ts <commit>   # fields changed on purpose since
//
// The inputs: the benchmark's cases (cases.ts), the recorded state of a real Ray head scaled to 100,
// 1,000 and 2,000 nodes (as the pass benchmark decides from it), the same with workers idle past the
// timeout or over a lowered maxWorkers (so that the removal path packs the placement groups and
// request_resources onto the nodes), and random small clusters (randomParityCase) as they are and with
// idle workers, hand-started nodes and each node's own `node:<ip>` resource. Exits 1 on a difference,
// printing the first few.
import { execFileSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { defaulted } from "../../api/v1/defaults";
import { schedulerInput } from "../../operator/autoscaler/autoscaler";
import { toClusterResourceState } from "../../operator/autoscaler/gcs-client";
import { observedFromGcs } from "../../operator/autoscaler/gcs-input";
import { autoscalingSpec } from "../../operator/autoscaler/loop";
import { ClusterNode, decide, Decision, SchedulerInput } from "../../operator/autoscaler/scheduler";
import { benchCases, randomParityCase, rng } from "./cases";
import { passCluster } from "./pass-cluster";
import { readRecording, scaledCluster } from "./scale";

const REPO = resolve(__dirname, "../..");

/** The recorded head's state at `nodes` nodes, as the pass benchmark's cluster decides from it. */
function recordedInput(nodes: number, demands: number): SchedulerInput {
  const scaled = scaledCluster(readRecording(), "parity", nodes, demands);
  const observed = observedFromGcs(toClusterResourceState(scaled.reply.clusterResourceState!));
  const workers = scaled.pods.filter((p) => p.kind === "worker").map((p) => ({ name: p.name, type: p.type }));
  return schedulerInput(autoscalingSpec(defaulted(passCluster("parity"))), workers, observed.nodes, observed);
}

/** Some workers idle past the timeout (all free), half the nodes with their own `node:<ip>`, a node started by hand. */
function withIdleWorkers(input: SchedulerInput, seed: number): SchedulerInput {
  const r = rng(seed);
  const nodes = input.nodes.map((n, i): ClusterNode => {
    const own = r() < 0.5 ? { [`node:10.0.${i >> 8}.${i & 255}`]: 1 } : {};
    const total = { ...n.total, ...own };
    if (n.isHead || r() < 0.5) return { ...n, total, available: { ...n.available, ...own } };
    const idleMs = Math.floor(r() * 2 * input.idleTimeoutMs);
    return { ...n, total, available: { ...total }, status: "IDLE", idleMs };
  });
  if (r() < 0.3) {
    const total = { CPU: 32 };
    nodes.push({
      instanceId: "by-hand",
      type: "",
      total,
      available: { CPU: 16 },
      status: "RUNNING",
      idleMs: 0,
      isHead: false,
    });
  }
  // Now and then a maxWorkers lowered below the workers there are.
  const workers = nodes.filter((n) => !n.isHead).length;
  const maxWorkers = r() < 0.3 ? Math.max(0, workers - 1 - Math.floor(r() * 3)) : input.maxWorkers;
  return { ...input, nodes, maxWorkers };
}

function cases(perFamily: number): { name: string; input: SchedulerInput }[] {
  const out = benchCases().map((c) => ({ name: `bench ${c.name}`, input: c.input }));
  for (const [nodes, demands] of [
    [100, 1000],
    [1000, 10_000],
    [2000, 20_000],
  ]) {
    const input = recordedInput(nodes, demands);
    out.push({ name: `recorded ${nodes} nodes`, input });
    for (let seed = 0; seed < 5; seed++)
      out.push({ name: `recorded ${nodes} nodes, idle workers #${seed}`, input: withIdleWorkers(input, seed) });
  }
  for (let seed = 0; seed < perFamily; seed++) {
    const input = randomParityCase(seed);
    out.push({ name: `random #${seed}`, input });
    out.push({ name: `random #${seed}, idle workers`, input: withIdleWorkers(input, seed) });
  }
  return out;
}

/** `decide` of scheduler.ts at `commit`, loaded from a copy (the file imports nothing). */
function decideAt(commit: string): (input: SchedulerInput) => Decision {
  const dir = mkdtempSync(join(tmpdir(), "scheduler-parity-"));
  try {
    const file = join(dir, "scheduler.ts");
    writeFileSync(
      file,
      execFileSync("git", ["show", `${commit}:operator/autoscaler/scheduler.ts`], { cwd: REPO, encoding: "utf8" }),
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(file) as { decide: (input: SchedulerInput) => Decision }).decide;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const [commit, perFamily = "1000"] = process.argv.slice(2);
  if (!commit) throw new Error("usage: parity.ts <commit> [random cases per family]");
  const ignored = new Set((process.env.PARITY_IGNORE ?? "").split(",").filter(Boolean));
  const before = decideAt(commit);
  const comparable = (d: Decision) =>
    JSON.stringify(Object.fromEntries(Object.entries(d).filter(([k]) => !ignored.has(k))));
  const all = cases(Number(perFamily));
  const differ: string[] = [];
  for (const c of all) {
    const a = comparable(before(structuredClone(c.input)));
    const b = comparable(decide(structuredClone(c.input)));
    if (a !== b) differ.push(`${c.name}:\n  ${commit}: ${a}\n  now: ${b}`);
  }
  console.log(
    `decision parity with ${commit}: ${all.length - differ.length} of ${all.length} inputs decided the same` +
      (ignored.size ? ` (fields ignored: ${[...ignored].join(", ")})` : ""),
  );
  for (const d of differ.slice(0, 5)) console.log(d);
  if (differ.length) process.exit(1);
}

main();
