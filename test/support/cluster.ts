// The Kubernetes cluster integration tests run against: one real control plane started on first use
// per test run and always torn down at the end, or, when TEST_KUBECONFIG is set, that cluster
// instead (a kind or minikube of the user's), with nothing else changed.
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { startControlPlane, stopControlPlane, ControlPlaneState } from "../../scripts/cluster/control-plane";

export interface TestCluster {
  kubeconfig: string;
  /** True when the control plane was started by this test run (kwok nodes, ours to break). */
  local: boolean;
}

let started: Promise<TestCluster> | undefined;
let state: ControlPlaneState | undefined;

export function testCluster(): Promise<TestCluster> {
  if (!started) {
    started = (async () => {
      if (process.env.TEST_KUBECONFIG) return { kubeconfig: process.env.TEST_KUBECONFIG, local: false };
      const stateDir = mkdtempSync(join(tmpdir(), "ray-operator-test-"));
      state = await startControlPlane({ stateDir, log: (l) => console.error(`      [control plane] ${l}`) });
      return { kubeconfig: state.kubeconfig, local: true };
    })();
  }
  return started;
}

/** A control plane of its own, for tests that install and remove cluster-scoped objects (the CRD). */
export async function privateCluster(): Promise<{ kubeconfig: string; local: boolean; stop: () => void }> {
  if (process.env.TEST_KUBECONFIG) return { kubeconfig: process.env.TEST_KUBECONFIG, local: false, stop: () => {} };
  const stateDir = mkdtempSync(join(tmpdir(), "ray-operator-e2e-"));
  const s = await startControlPlane({ stateDir, log: (l) => console.error(`      [control plane] ${l}`) });
  privates.push(s);
  return { kubeconfig: s.kubeconfig, local: true, stop: () => stopControlPlane(s) };
}
const privates: ControlPlaneState[] = [];

export function stopTestCluster(): void {
  for (const p of privates.splice(0)) stopControlPlane(p);
  if (state) stopControlPlane(state);
  state = undefined;
}

// However mocha ends, leave no process behind.
process.once("exit", stopTestCluster);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    stopTestCluster();
    process.exit(130);
  });
}
