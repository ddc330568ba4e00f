// npm run cluster:up / cluster:down — the local cluster for `npm start` and `npm run operator`: the
// control plane, its simulated kwok nodes and, where this machine can host one, the real node.
import { existsSync, readFileSync } from "fs";
import { join, resolve } from "path";
import { adminGet, ControlPlaneState, isRunning } from "./control-plane";
import { whyNoRealNode } from "./host";
import { pkiOf, setHostOwner, startLocalCluster, stopLocalCluster } from "./local-cluster";

// RAY_OPERATOR_CLUSTER_DIR: another place for the state (the tests use their own).
const STATE_DIR = process.env.RAY_OPERATOR_CLUSTER_DIR ?? resolve(__dirname, "..", "..", ".cluster");
const stateFile = join(STATE_DIR, "state.json");
const log = (l: string) => console.error(`[cluster] ${l}`);

function readState(): ControlPlaneState | undefined {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as ControlPlaneState) : undefined;
}

/**
 * The kubeconfig of the local cluster, started if it is not running. `operatorImage`: the image to build
 * and import.
 */
export async function ensureLocalCluster(operatorImage?: string): Promise<string> {
  const existing = readState();
  if (existing && isRunning(existing) && (await adminGet(existing.server, pkiOf(existing), "/readyz")).status === 200) {
    log(`already running at ${existing.server}`);
    return existing.kubeconfig;
  }
  if (existing) {
    log("found a stopped or broken local cluster; cleaning it up");
    stopLocalCluster({ controlPlane: existing }, log);
  }
  const why = whyNoRealNode();
  if (why) log(`no real node: ${why}; pods can only be simulated (kwok)`);
  const cluster = await startLocalCluster({ stateDir: STATE_DIR, realNode: why ? "never" : "now", operatorImage, log });
  // This process ends now; the API server lives as long as the cluster and owns the host's changes.
  setHostOwner(cluster, cluster.controlPlane.pids["kube-apiserver"]);
  return cluster.controlPlane.kubeconfig;
}

function down(): void {
  const existing = readState();
  if (!existing) {
    log("no local cluster is running");
    return;
  }
  const left = stopLocalCluster({ controlPlane: existing }, log);
  log(left.length ? `stopped, but the host still has: ${left.join("; ")}` : "stopped; the host is as it was");
  if (left.length) process.exitCode = 1;
}

if (require.main === module) {
  const cmd = process.argv[2];
  if (cmd === "up") {
    ensureLocalCluster(process.argv[3])
      .then((kubeconfig) => {
        log(`export KUBECONFIG=${kubeconfig}`);
        console.log(kubeconfig);
      })
      .catch((e) => {
        console.error(e instanceof Error ? e.message : e);
        process.exit(1);
      });
  } else if (cmd === "down") down();
  else {
    console.error("usage: cli.ts up [operator image]|down");
    process.exit(2);
  }
}
