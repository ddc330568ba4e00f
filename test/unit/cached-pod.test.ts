// What the pod cache keeps (operator/controller/pods.ts `cachedPod`): the fields the operator reads,
// written out here, from a pod as the API server sends it; every reader of pods answers the same on
// the kept copy as on the whole pod; and the informer stores and hands out only the kept copy.
import { strict as assert } from "assert";
import {
  Pod,
  awaitingScheduler,
  cachedPod,
  controllerKey,
  created,
  isFinished,
  isReady,
  isRunning,
  isTerminating,
  launchHashOf,
  nodeKind,
  podType,
} from "../../operator/controller/pods";
import { Informer } from "../../operator/kube/informer";
import type { KubeRest, WatchEvent } from "../../operator/kube/rest";
import { createLogger } from "../../operator/util/log";

/** A worker pod as a GET returns it (abridged only in the container's spec), typed as the wire's JSON. */
function wirePod(name: string, resourceVersion: string): Pod {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      generateName: "c-ray-worker-",
      namespace: "ray",
      uid: `uid-${name}`,
      resourceVersion,
      creationTimestamp: "2026-12-01T10:00:00Z",
      labels: {
        "cluster.ray.io/cluster-name": "c",
        "cluster.ray.io/node-type": "worker",
        "cluster.ray.io/user-node-type": "worker-nodes",
        "cluster.ray.io/launch-config": "abc123",
        team: "ml",
      },
      annotations: {
        "cluster.ray.io/head-pod-name": "c-ray-head-x1",
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
        "example.com/note": "kept by nobody",
      },
      ownerReferences: [
        { apiVersion: "cluster.ray.io/v1", kind: "RayCluster", name: "c", uid: "rc-uid", controller: true },
      ],
      managedFields: [{ manager: "ray-operator", operation: "Update", fieldsV1: { "f:metadata": {} } }],
    },
    spec: {
      nodeName: "kwok-node-0",
      restartPolicy: "Never",
      containers: [{ name: "ray-node", image: "rayproject/ray:2.60.0", command: ["/bin/bash", "-c", "ray start"] }],
      tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
    },
    status: {
      phase: "Running",
      podIP: "10.244.0.7",
      hostIP: "10.201.0.1",
      startTime: "2026-12-01T10:00:01Z",
      qosClass: "Burstable",
      conditions: [
        { type: "PodScheduled", status: "True", lastTransitionTime: "2026-12-01T10:00:00Z" },
        { type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: "2026-12-01T10:00:02Z" },
      ],
      containerStatuses: [
        { name: "ray-node", ready: true, restartCount: 0, image: "rayproject/ray:2.60.0", state: { running: {} } },
      ],
    },
  };
  return pod as unknown as Pod;
}

/** What the cache keeps of `wirePod(name, rv)`: written out, not computed. */
const kept = (name: string, resourceVersion: string): Pod => ({
  metadata: {
    name,
    namespace: "ray",
    uid: `uid-${name}`,
    labels: {
      "cluster.ray.io/cluster-name": "c",
      "cluster.ray.io/node-type": "worker",
      "cluster.ray.io/user-node-type": "worker-nodes",
      "cluster.ray.io/launch-config": "abc123",
      team: "ml",
    },
    annotations: { "cluster.ray.io/head-pod-name": "c-ray-head-x1" },
    ownerReferences: [
      { apiVersion: "cluster.ray.io/v1", kind: "RayCluster", name: "c", uid: "rc-uid", controller: true },
    ],
    creationTimestamp: "2026-12-01T10:00:00Z",
    resourceVersion,
  },
  spec: { nodeName: "kwok-node-0" },
  status: {
    phase: "Running",
    podIP: "10.244.0.7",
    conditions: [
      { type: "PodScheduled", status: "True" },
      { type: "Ready", status: "True" },
    ],
  },
});

describe("the pod cache keeps only what the operator reads", () => {
  it("keeps these fields of a pod as the API server sends it, and no others", () => {
    assert.deepEqual(cachedPod(wirePod("w1", "7")), kept("w1", "7"));
  });

  it("keeps a terminating pod's deletionTimestamp, and a pod with no status or node yet", () => {
    const pod = wirePod("w2", "8");
    pod.metadata.deletionTimestamp = "2026-12-01T10:05:00Z";
    delete pod.spec;
    delete pod.status;
    const metadata = { ...kept("w2", "8").metadata, deletionTimestamp: "2026-12-01T10:05:00Z" };
    assert.deepEqual(cachedPod(pod), { metadata });
  });

  it("gives every reader of pods the same answer as the whole pod", () => {
    const variants: Pod[] = [];
    for (const phase of ["Pending", "Running", "Succeeded", "Failed", undefined])
      for (const ready of ["True", "False", undefined])
        for (const scheduled of [true, false])
          for (const terminating of [true, false]) {
            const p = wirePod(`v${variants.length}`, "1");
            const st = p.status!;
            st.phase = phase;
            st.conditions = st.conditions!.filter((c) => (c.type === "Ready" ? ready : scheduled));
            for (const c of st.conditions) if (c.type === "Ready") c.status = ready!;
            if (!scheduled) delete p.spec!.nodeName;
            if (terminating) p.metadata.deletionTimestamp = "2026-12-01T10:05:00Z";
            variants.push(p);
          }
    const readers = {
      isTerminating,
      isFinished,
      isRunning,
      isReady,
      awaitingScheduler,
      nodeKind,
      podType,
      launchHashOf,
      created,
      controllerKey,
    };
    for (const p of variants)
      for (const [name, read] of Object.entries(readers))
        assert.deepEqual(read(cachedPod(p)), read(p), `${name} of ${p.metadata.name}`);
  });
});

describe("an informer with `keep`", () => {
  it("stores and hands out the kept copy, from the list and from the watch", async () => {
    let watched = false;
    const rest = {
      get: async () => ({ items: [wirePod("a", "1")], metadata: { resourceVersion: "1" } }),
      watch: async (_p: string, _q: unknown, onEvent: (e: WatchEvent<Pod>) => void, signal: AbortSignal) => {
        if (!watched) {
          watched = true;
          onEvent({ type: "ADDED", object: wirePod("b", "2") });
          onEvent({ type: "MODIFIED", object: wirePod("a", "3") });
        }
        return new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
      },
    };
    const inf = new Informer<Pod>(rest as unknown as KubeRest, {
      name: "pods",
      path: "/api/v1/pods",
      keep: cachedPod,
      log: createLogger("error", () => {}),
    });
    const handed: Pod[] = [];
    inf.on({ add: (p) => handed.push(p), update: (_, p) => handed.push(p) });
    inf.start();
    await inf.waitForSync();
    await new Promise((r) => setTimeout(r, 20));
    inf.stop();
    assert.deepEqual(handed, [kept("a", "1"), kept("b", "2"), kept("a", "3")]);
    assert.deepEqual(inf.list(), [kept("a", "3"), kept("b", "2")]);
    // What the operator writes goes through the same copy (its create's answer, remembered).
    inf.remember(wirePod("b", "4"));
    assert.deepEqual(inf.get("ray/b"), kept("b", "4"));
  });
});
