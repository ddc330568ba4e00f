// The Kubernetes cluster integration tests run against: one local cluster started on first use per
// test run and always torn down at the end (the host put back as it was), or, when TEST_KUBECONFIG is
// set, that cluster instead (a kind or minikube of the user's), with nothing else changed.
//
// The local cluster has simulated kwok nodes (tainted: only pods that tolerate them land there) and,
// where this machine can host one, a real node that runs containers: started on the first call of
// `realNodeCluster()`, so a run that needs no real container never pays for it.
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { ControlPlaneState, startControlPlane, stopControlPlane } from "../../scripts/cluster/control-plane";
import { attachRealNode, LocalCluster, startLocalCluster, stopLocalCluster } from "../../scripts/cluster/local-cluster";
import type { RealNode } from "../../scripts/cluster/node";

export interface TestCluster {
  kubeconfig: string;
  /** True when the control plane was started by this test run (kwok nodes, ours to break). */
  local: boolean;
}

export interface RealNodeCluster extends TestCluster {
  node: RealNode;
  /** The local control plane (its processes, for fault tests). */
  controlPlane: ControlPlaneState;
}

const log = (l: string) => console.error(`      [cluster] ${l}`);
let started: Promise<LocalCluster | undefined> | undefined;
let shared: LocalCluster | undefined;
let attaching: Promise<RealNode> | undefined;

function sharedCluster(): Promise<LocalCluster | undefined> {
  if (!started) {
    started = (async () => {
      if (process.env.TEST_KUBECONFIG) return undefined;
      const stateDir = mkdtempSync(join(tmpdir(), "ray-operator-test-"));
      stateDirs.push(stateDir);
      shared = await startLocalCluster({ stateDir, realNode: "later", audit: true, log });
      return shared;
    })();
  }
  return started;
}

export async function testCluster(): Promise<TestCluster> {
  const c = await sharedCluster();
  return c
    ? { kubeconfig: c.controlPlane.kubeconfig, local: true }
    : { kubeconfig: process.env.TEST_KUBECONFIG!, local: false };
}

/** The shared local cluster's control plane, once it runs (undefined with TEST_KUBECONFIG): for fault tests. */
export function testControlPlane(): ControlPlaneState | undefined {
  return shared?.controlPlane;
}

/** The shared local cluster's audit log (every request, metadata only), once it runs. */
export function testClusterAuditLog(): string | undefined {
  return shared?.controlPlane.auditLog;
}

/**
 * The shared cluster with its real node running (started on first use: images built or taken from
 * the cache, imported into containerd). Fails, rather than skips, where the machine cannot host one:
 * what these tests prove needs real containers.
 */
export async function realNodeCluster(): Promise<RealNodeCluster> {
  const c = await sharedCluster();
  if (!c)
    throw new Error(
      "TEST_KUBECONFIG is set: the real-node tests run only on the local cluster, whose node and images they control",
    );
  attaching ??= attachRealNode(c, undefined, log);
  const node = await attaching;
  return { kubeconfig: c.controlPlane.kubeconfig, local: true, node, controlPlane: c.controlPlane };
}

/** A control plane of its own, for tests that install and remove cluster-scoped objects (the CRD). */
export async function privateCluster(): Promise<{ kubeconfig: string; local: boolean; stop: () => void }> {
  if (process.env.TEST_KUBECONFIG) return { kubeconfig: process.env.TEST_KUBECONFIG, local: false, stop: () => {} };
  const stateDir = mkdtempSync(join(tmpdir(), "ray-operator-e2e-"));
  stateDirs.push(stateDir);
  const s = await startControlPlane({ stateDir, log });
  privates.push(s);
  return { kubeconfig: s.kubeconfig, local: true, stop: () => stopControlPlane(s) };
}
const privates: ControlPlaneState[] = [];
/** The state directories made here (kubeconfigs, logs), removed when the test run ends. */
const stateDirs: string[] = [];

/**
 * Stops the shared cluster (and its real node) now; the next test that asks for it gets a new one.
 * For tests that need the machine without any real node on it.
 */
export async function releaseSharedCluster(): Promise<void> {
  await started?.catch(() => undefined);
  await attaching?.catch(() => undefined);
  if (shared) {
    const left = stopLocalCluster(shared, log);
    if (left.length) throw new Error(`stopping the shared cluster left on the host: ${left.join("; ")}`);
  }
  shared = undefined;
  started = undefined;
  attaching = undefined;
}

export function stopTestCluster(): void {
  for (const p of privates.splice(0)) stopControlPlane(p);
  if (shared) {
    const left = stopLocalCluster(shared, log);
    if (left.length) console.error(`      [cluster] the host still has: ${left.join("; ")}`);
  }
  shared = undefined;
  for (const dir of stateDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

// However mocha ends, leave no process behind and the host as it was.
process.once("exit", stopTestCluster);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    stopTestCluster();
    process.exit(130);
  });
}
