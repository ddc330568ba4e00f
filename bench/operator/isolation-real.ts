// Isolation where it means something (`BENCH_ONLY=isolation-real`, and part of the full run where this
// machine can host a real node): the same procedure as the isolation part (isolation.ts), but the small
// cluster (1 head + 1 worker) runs Ray in real containers on the real node, while the big cluster's
// 0 -> 500 scale-up lands on the simulated nodes beside it. Alone, the small cluster's time is seconds
// (sandbox, container start, Ray's start, the readiness probe), not the tenth of a second of kwok pods.
//
// On its own local cluster (scripts/cluster/local-cluster.ts, the real node started with it), stopped
// and the host put back on the way out, also on failure, SIGINT or SIGTERM.
import { execFileSync } from "child_process";
import { existsSync } from "fs";
import { join } from "path";
import { LocalCluster, startLocalCluster, stopLocalCluster } from "../../scripts/cluster/local-cluster";
import { JOURNAL_FILE, readJournal } from "../../scripts/cluster/host";
import { REAL_NODE_NAME, RealNode } from "../../scripts/cluster/node";
import { BenchCluster, log, sleep } from "./harness";
import { IsolationFigures, isolationResults, isolationRows, measureIsolation, Row } from "./isolation";
import { cgroupCpuSeconds, cpuByProcess, machineBusySeconds } from "./proc";
import { fmt, summarize } from "./stats";
import { BENCH_IMAGE, benchCluster, realNodePodSpec } from "./workload";

/** The target: beside the scale-up at most 1.2 times the time alone. */
const TARGET = 1.2;
/** How long the node may take to stop a sample's containers. */
const NODE_IDLE_TIMEOUT_MS = 120_000;

export interface RealNodeIsolationOptions {
  root: string;
  runs: number;
  bigWorkers: number;
  /** The simulated nodes, as the other parts have them (room for the big cluster's workers). */
  kwokNodes: { count: number; cpu: string; memory: string; pods: number };
}

/** What the part adds to the report: the results file's entry, the table's rows, the machine-readable line. */
export interface RealNodeIsolationReport {
  results: Record<string, unknown>;
  rows: Row[];
  line: string;
}

/** The task containers (and pod sandboxes) containerd runs for the kubelet, by id. */
function nodeTasks(node: RealNode): string[] {
  const out = execFileSync("ctr", ["--address", node.containerdSocket, "--namespace", "k8s.io", "tasks", "ls", "-q"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return out.toString().split("\n").filter(Boolean);
}

/** Resolves once the node runs no container: the last sample's pods were force-deleted from the API. */
async function nodeIdle(node: RealNode): Promise<void> {
  const deadline = Date.now() + NODE_IDLE_TIMEOUT_MS;
  for (;;) {
    const left = nodeTasks(node);
    if (!left.length) return;
    if (Date.now() > deadline) throw new Error(`node ${node.name} still runs ${left.length} container(s)`);
    await sleep(250);
  }
}

/**
 * CPU seconds used so far by the Ray pods (the kubelet's `kubepods` cgroup), the real node's own
 * processes (containerd, kubelet, kube-proxy, CoreDNS), the control plane, the operator, this script,
 * and the whole machine (cpuDelta turns the last into `others`: what else ran meanwhile).
 */
function cpuNow(cluster: LocalCluster, b: BenchCluster): Record<string, number> {
  const nodePids = readJournal()?.pids ?? {};
  return {
    "ray pods": cgroupCpuSeconds("kubepods"),
    ...cpuByProcess({ ...nodePids, ...cluster.controlPlane.pids }, b.op?.pid),
    machine: machineBusySeconds(),
  };
}

export async function isolationOnRealNode(o: RealNodeIsolationOptions): Promise<RealNodeIsolationReport> {
  const b = new BenchCluster();
  let cluster: LocalCluster | undefined;
  // However the process ends, no node, container or host change stays behind.
  const stopNow = () => {
    if (b.op?.pid) process.kill(b.op.pid, "SIGKILL");
    if (cluster) stopLocalCluster(cluster, log);
    cluster = undefined;
  };
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping the real node and putting the host back`);
    stopNow();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", stopNow);
  let f: IsolationFigures;
  try {
    cluster = await startLocalCluster({
      stateDir: join(o.root, ".bench-cluster", "real-node"),
      realNode: "now",
      nodes: o.kwokNodes,
      log,
    });
    const node = cluster.node!;
    await b.install(cluster.controlPlane.kubeconfig);
    await b.startOperator();
    f = await measureIsolation(b, {
      label: "isolation on the real node",
      runs: o.runs,
      bigWorkers: o.bigWorkers,
      small: (name, ns) => benchCluster(name, ns, 1, 1, realNodePodSpec),
      afterEachSample: () => nodeIdle(node),
      cpuSeconds: () => cpuNow(cluster!, b),
    });
  } finally {
    await b.stopOperator();
    b.admin?.close();
    if (cluster) {
      const left = stopLocalCluster(cluster, log);
      cluster = undefined;
      if (left.length) log(`the host still has: ${left.join("; ")}`);
    }
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    process.removeListener("exit", stopNow);
    log(`host journal ${JOURNAL_FILE}: ${existsSync(JOURNAL_FILE) ? "STILL THERE" : "gone (host restored)"}`);
  }
  const ratio = summarize(f.ratio).median;
  return {
    results: { node: REAL_NODE_NAME, image: BENCH_IMAGE, target: TARGET, ...isolationResults(f) },
    rows: isolationRows(f, "isolation, real node", o.bigWorkers, TARGET),
    line: `isolation_real_node_ratio: ${fmt(ratio)}`,
  };
}
