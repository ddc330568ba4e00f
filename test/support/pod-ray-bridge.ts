// Plays the kubelet for Ray. On the test control plane, pods are scheduled onto kwok nodes and reach
// Running, but no container runs, so no worker pod ever starts Ray. This bridge watches one
// RayCluster's worker pods and does what their container would do, against a real local Ray head
// (test/support/ray.ts):
//
//  - a worker pod that reaches Running (and is not being deleted) gets one real Ray worker node,
//    joining the head with the environment the operator's pod would give it: RAY_CLOUD_INSTANCE_ID =
//    the pod's name, RAY_NODE_TYPE_NAME = its `ray-user-node-type` label, RAY_OVERRIDE_RESOURCES = the
//    value the operator put in the Ray container's env (builders/ray-cluster.ts buildPod);
//  - a pod that is deleted, or gets a deletionTimestamp, has exactly its Ray node stopped;
//  - a Ray node that exits by itself (a drained node's raylet exits) is only logged: the pod's
//    container keeps running after Ray stops (the launcher ends with `sleep infinity`), so the pod
//    stays as it is until someone deletes it;
//  - `stop()` stops every node it started, and waits until not one of their processes is left.
//
// Every action is logged (with a timestamp) for debugging failed tests, and kept in `history`.
import type { V1Pod } from "@kubernetes/client-node";
import { LABELS } from "../../api/v1/types";
import type { Clients } from "../helpers/kube";
import type { LocalRayCluster, RayNodeProcess } from "./ray";

export interface PodRayBridgeOptions {
  /** Admin clients of the cluster the operator runs against. */
  clients: Clients;
  namespace: string;
  /** The RayCluster's name (label `ray-cluster-name`). */
  cluster: string;
  /** The running local Ray head the worker nodes join. */
  ray: LocalRayCluster;
  /** How often to list the pods (300 ms). */
  pollMs?: number;
  /** Where log lines go (stderr by default, indented like the control plane's). */
  log?: (line: string) => void;
}

type NodeState = "starting" | "running" | "exited" | "stopping" | "stopped" | "failed";

interface Tracked {
  pod: string;
  uid: string;
  type: string;
  resources: Record<string, number>;
  state: NodeState;
  node?: RayNodeProcess;
  /** The start in progress (or done). */
  starting?: Promise<void>;
  /** The stop in progress (or done). */
  stopping?: Promise<void>;
}

export interface BridgeEvent {
  at: number;
  pod: string;
  what: "start" | "started" | "start-failed" | "exited" | "stop" | "stopped";
  detail?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** The resources the operator gave the pod's Ray container (RAY_OVERRIDE_RESOURCES), parsed. */
export function podRayResources(pod: V1Pod): Record<string, number> {
  const env = pod.spec?.containers?.[0]?.env ?? [];
  const v = env.find((e) => e.name === "RAY_OVERRIDE_RESOURCES")?.value;
  if (!v) throw new Error(`pod ${pod.metadata?.name}: no RAY_OVERRIDE_RESOURCES in its Ray container's env`);
  const parsed = JSON.parse(v);
  if (typeof parsed !== "object" || parsed === null) throw new Error(`pod ${pod.metadata?.name}: RAY_OVERRIDE_RESOURCES is not an object: ${v}`);
  return parsed as Record<string, number>;
}

export class PodRayBridge {
  private readonly core: Clients["core"];
  private readonly ns: string;
  private readonly cluster: string;
  private readonly ray: LocalRayCluster;
  private readonly pollMs: number;
  private readonly out: (line: string) => void;
  private readonly tracked = new Map<string, Tracked>();
  private loop?: Promise<void>;
  private running = false;
  private lastListError = "";
  readonly history: BridgeEvent[] = [];
  private readonly lines: string[] = [];

  constructor(opts: PodRayBridgeOptions) {
    this.core = opts.clients.core;
    this.ns = opts.namespace;
    this.cluster = opts.cluster;
    this.ray = opts.ray;
    this.pollMs = opts.pollMs ?? 300;
    this.out = opts.log ?? ((l) => console.error(`      [bridge] ${l}`));
  }

  /** Starts watching (polling) the cluster's worker pods. */
  start(): this {
    if (this.running) return this;
    this.running = true;
    this.log(`watching worker pods of ${this.ns}/${this.cluster}; Ray head GCS at ${this.ray.gcsAddress}`);
    this.loop = (async () => {
      while (this.running) {
        await this.syncOnce().catch((e) => this.log(`sync failed: ${(e as Error).message}`));
        await sleep(this.pollMs);
      }
    })();
    return this;
  }

  /** Stops watching and stops every Ray node this bridge started; resolves once all are gone. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.tracked.values()].map((t) => this.stopNode(t, "bridge stopping")));
    this.log("stopped; no Ray node of ours left");
  }

  /** Pod names whose Ray node is up (started and not exited or stopped). */
  liveNodes(): string[] {
    return [...this.tracked.values()].filter((t) => t.state === "running").map((t) => t.pod).sort();
  }

  /** The Ray node process of a pod, if one was started. */
  nodeOf(pod: string): RayNodeProcess | undefined {
    return this.tracked.get(pod)?.node;
  }

  /** The log so far, one line each. */
  logs(): string {
    return this.lines.join("\n");
  }

  /** One pass: list the worker pods, start nodes for new Running pods, stop nodes of deleted ones. */
  async syncOnce(): Promise<void> {
    let pods: V1Pod[];
    try {
      const list = await this.core.listNamespacedPod({
        namespace: this.ns,
        labelSelector: `${LABELS.clusterName}=${this.cluster},${LABELS.nodeType}=worker`,
      });
      pods = list.items;
      this.lastListError = "";
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.lastListError) this.log(`listing pods failed: ${msg}`);
      this.lastListError = msg;
      return;
    }
    if (!this.running) return;
    const present = new Map<string, V1Pod>();
    for (const p of pods) present.set(p.metadata!.name!, p);

    for (const t of this.tracked.values()) {
      const p = present.get(t.pod);
      if (!p || p.metadata!.uid !== t.uid) void this.stopNode(t, "pod deleted");
      else if (p.metadata!.deletionTimestamp) void this.stopNode(t, "pod terminating (deletionTimestamp set)");
    }

    for (const p of pods) {
      const name = p.metadata!.name!;
      const old = this.tracked.get(name);
      if (old && old.uid !== p.metadata!.uid && old.state === "stopped") this.tracked.delete(name); // a new pod of the same name
      if (this.tracked.has(name) || p.metadata!.deletionTimestamp || p.status?.phase !== "Running") continue;
      this.startNode(p);
    }
  }

  private startNode(pod: V1Pod): void {
    const name = pod.metadata!.name!;
    const type = pod.metadata!.labels?.[LABELS.userNodeType] ?? "";
    let resources: Record<string, number>;
    try {
      resources = podRayResources(pod);
    } catch (e) {
      const t: Tracked = { pod: name, uid: pod.metadata!.uid!, type, resources: {}, state: "failed" };
      this.tracked.set(name, t);
      this.event(name, "start-failed", (e as Error).message);
      return;
    }
    const t: Tracked = { pod: name, uid: pod.metadata!.uid!, type, resources, state: "starting" };
    this.tracked.set(name, t);
    this.event(name, "start", `type ${type}, resources ${JSON.stringify(resources)}`);
    const t0 = Date.now();
    t.starting = (async () => {
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          const node = await this.ray.addWorker({
            instanceId: name,
            nodeTypeName: type,
            numCpus: resources.CPU ?? 0,
            env: { RAY_OVERRIDE_RESOURCES: JSON.stringify(resources) },
          });
          t.node = node;
          if (t.state !== "starting") return; // deleted meanwhile: stopNode stops it
          t.state = "running";
          this.event(name, "started", `pid ${node.pgid}, in ${Date.now() - t0} ms`);
          void node.exited.then((code) => {
            if (t.state === "running") {
              t.state = "exited";
              this.event(name, "exited", `Ray node exited by itself (code ${code}); the pod is left as it is`);
            }
          });
          return;
        } catch (e) {
          this.event(name, "start-failed", `attempt ${attempt}: ${(e as Error).message.split("\n")[0]}`);
          await this.ray.stopWorker(name).catch(() => undefined);
          if (t.state !== "starting" || !this.running) return;
          await sleep(1000);
        }
      }
      t.state = "failed";
    })();
  }

  private stopNode(t: Tracked, why: string): Promise<void> {
    if (t.stopping) return t.stopping;
    if (t.state === "failed" && !t.node && !t.starting) {
      t.state = "stopped";
      t.stopping = Promise.resolve();
      return t.stopping;
    }
    const was = t.state;
    t.state = "stopping";
    this.event(t.pod, "stop", `${why}${was === "running" ? "" : `; its Ray node was ${was === "starting" ? "still starting" : was}`}`);
    t.stopping = (async () => {
      await t.starting;
      if (this.ray.worker(t.pod)) await this.ray.stopWorker(t.pod);
      t.state = "stopped";
      this.event(t.pod, "stopped");
    })();
    return t.stopping;
  }

  private event(pod: string, what: BridgeEvent["what"], detail?: string): void {
    const at = Date.now();
    this.history.push({ at, pod, what, detail });
    this.log(`${pod}: ${what}${detail ? ` (${detail})` : ""}`, at);
  }

  private log(line: string, at = Date.now()): void {
    const l = `${stamp(at)} ${line}`;
    this.lines.push(l);
    this.out(l);
  }
}
