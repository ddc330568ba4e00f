// A real Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC, default admission plugins
// including PodSecurity), kube-controller-manager (garbage collection, namespaces, service accounts),
// kube-scheduler, and kwok, which plays the kubelet for a few simulated nodes so pods are scheduled
// and reach Running and Ready. Used by `npm run cluster:up` and by the integration test fixture.
import { ChildProcess, execFileSync, spawn } from "child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "fs";
import { createServer } from "net";
import { request } from "https";
import { readFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { clientCert, kubeconfigYaml, makePki, Pki } from "./pki";
import { processAlive } from "./host";

export const K8S_TOOLCHAIN_SCRIPT = resolve(__dirname, "..", "toolchain", "k8s.sh");

export interface NodeShape {
  count: number;
  cpu: string;
  memory: string;
  pods: number;
}

export interface ControlPlaneOptions {
  /** Where the kubeconfig, logs and state go. */
  stateDir: string;
  nodes?: Partial<NodeShape>;
  /**
   * The address the API server binds and advertises (default loopback). A real node needs the node
   * address: its pods cannot reach the host's 127.0.0.1 (real-node.md), and in-cluster clients reach
   * the API server through the `kubernetes` Service, which points here.
   */
  bindAddress?: string;
  /**
   * Write the API server's audit log (`<dataDir>/audit.log`, one JSON event per request, metadata
   * only): who did what to which resource, for the tests that check RBAC against what was used.
   */
  audit?: boolean;
  log?: (line: string) => void;
}

export interface ControlPlaneState {
  kubeconfig: string;
  server: string;
  /** The API server's address (loopback, or the real node's address). */
  bindAddress: string;
  dataDir: string;
  stateDir: string;
  pids: Record<string, number>;
  /** Each process's arguments, so a fault test can stop one and start it again as it was. */
  args: Record<string, string[]>;
  binDir: string;
  startedAt: string;
  /** The etcd client URL (for compaction in fault tests). */
  etcdUrl: string;
  /** The audit log, when asked for. */
  auditLog?: string;
}

export const DEFAULT_NODES: NodeShape = {
  count: Number(process.env.KWOK_NODES ?? 4),
  cpu: process.env.KWOK_NODE_CPU ?? "32",
  memory: process.env.KWOK_NODE_MEMORY ?? "128Gi",
  pods: Number(process.env.KWOK_NODE_PODS ?? 300),
};

/** Builds the binaries when missing (cached under ~/.cache) and returns their directory. */
export function ensureBinaries(log: (l: string) => void = () => {}): string {
  const started = Date.now();
  const out = execFileSync("bash", [K8S_TOOLCHAIN_SCRIPT], { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 })
    .toString()
    .trim()
    .split("\n");
  log(`binaries ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${out[out.length - 1]}`);
  return out[out.length - 1];
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as any).port;
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts one of the control plane's processes in a process group of its own, logging to `<name>.log`. */
function launchProcess(binDir: string, logDir: string, name: string, args: string[]): ChildProcess {
  const fd = openSync(join(logDir, `${name}.log`), "a");
  // Own process group, so `cluster:down` (or the fixture) can stop it and anything it spawned.
  const p = spawn(join(binDir, name), args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  p.unref();
  return p;
}

/**
 * Kills one process of the control plane (SIGKILL: a crash, not a shutdown) and, after `downMs`,
 * starts it again with the same arguments and data (etcd keeps its data directory). Resolves once
 * the API server answers /readyz again. For fault tests.
 */
export async function restartProcess(state: ControlPlaneState, name: string, downMs = 0): Promise<void> {
  const pid = state.pids[name];
  if (!pid || !state.args[name]) throw new Error(`no ${name} in this control plane`);
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    /* already gone */
  }
  while (processAlive(pid)) await sleep(50);
  if (downMs) await sleep(downMs);
  state.pids[name] = launchProcess(state.binDir, join(state.dataDir, "logs"), name, state.args[name]).pid!;
  writeFileSync(join(state.stateDir, "state.json"), JSON.stringify(state, null, 2));
  const pki = {
    caCert: join(state.dataDir, "pki", "ca.crt"),
    adminCert: join(state.dataDir, "pki", "admin.crt"),
    adminKey: join(state.dataDir, "pki", "admin.key"),
  };
  const deadline = Date.now() + 120_000;
  while ((await adminGet(state.server, pki, "/readyz")).status !== 200) {
    if (Date.now() > deadline) throw new Error(`the API server is not ready 120 s after restarting ${name}`);
    await sleep(200);
  }
}

/** Freezes (SIGSTOP) or thaws (SIGCONT) one process of the control plane: a stall, not a crash. */
export function setFrozen(state: ControlPlaneState, name: string, frozen: boolean): void {
  process.kill(state.pids[name], frozen ? "SIGSTOP" : "SIGCONT");
}

/** Compacts etcd up to its current revision: every watch older than that gets 410 Gone. */
export async function compactEtcd(state: ControlPlaneState): Promise<number> {
  const post = async (path: string, body: unknown) =>
    (await fetch(`${state.etcdUrl}${path}`, { method: "POST", body: JSON.stringify(body) })).json() as Promise<{
      header?: { revision?: string };
    }>;
  const revision = Number((await post("/v3/kv/range", { key: Buffer.from("/").toString("base64") })).header?.revision);
  await post("/v3/kv/compaction", { revision: String(revision), physical: true });
  return revision;
}

/**
 * A request over TLS with the admin client certificate; resolves with the status code and body (0 when
 * unreachable).
 */
export function adminRequest(
  server: string,
  pki: Pick<Pki, "caCert" | "adminCert" | "adminKey">,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((res) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${server}${path}`,
      {
        method,
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        headers:
          data === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) },
        timeout: 10000,
      },
      (r) => {
        let out = "";
        r.on("data", (c) => (out += c));
        r.on("end", () => res({ status: r.statusCode ?? 0, body: out }));
      },
    );
    req.on("error", (e) => res({ status: 0, body: String(e) }));
    req.on("timeout", () => req.destroy());
    req.end(data);
  });
}

export const adminGet = (server: string, pki: Pick<Pki, "caCert" | "adminCert" | "adminKey">, path: string) =>
  adminRequest(server, pki, "GET", path);

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  procs: Record<string, ChildProcess>,
  logDir: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const [name, p] of Object.entries(procs)) {
      if (p.exitCode !== null || p.signalCode !== null)
        throw new Error(
          `${name} exited (${p.exitCode ?? p.signalCode}) while waiting for ${what}; ` +
            `see ${join(logDir, `${name}.log`)}`,
        );
    }
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; logs in ${logDir}`);
}

/**
 * Simulated nodes are tainted: a pod lands on one only if it says so (a toleration and the
 * `type: kwok` node selector, as the benchmarks and scale tests do), so a pod that means to run —
 * the operator's own, a seed RayCluster's — goes to the real node, never to a node that runs nothing.
 */
export const KWOK_TAINT = { key: "kwok.x-k8s.io/node", value: "fake", effect: "NoSchedule" } as const;

/** What a pod spec carries to land on a simulated node (and only there). */
export const KWOK_PLACEMENT = {
  nodeSelector: { type: "kwok" },
  tolerations: [{ key: KWOK_TAINT.key, operator: "Equal", value: KWOK_TAINT.value, effect: KWOK_TAINT.effect }],
};

export function kwokNode(name: string, shape: NodeShape): any {
  const resources = { cpu: shape.cpu, memory: shape.memory, pods: String(shape.pods) };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/role": "agent",
        type: "kwok",
      },
    },
    spec: { taints: [{ ...KWOK_TAINT }] },
    status: {
      allocatable: resources,
      capacity: resources,
      nodeInfo: { kubeletVersion: "fake", operatingSystem: "linux", architecture: "amd64" },
    },
  };
}

/** Starts everything; resolves once nodes are Ready and the controllers are working. */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlaneState> {
  const log = opts.log ?? (() => {});
  const nodes = { ...DEFAULT_NODES, ...opts.nodes };
  const started = Date.now();
  const binDir = ensureBinaries(log);
  const stateDir = resolve(opts.stateDir);
  mkdirSync(stateDir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "ray-operator-cp-"));
  const logDir = join(dataDir, "logs");
  mkdirSync(logDir);
  const bindAddress = opts.bindAddress ?? "127.0.0.1";
  const pkiDir = join(dataDir, "pki");
  mkdirSync(pkiDir, { recursive: true });
  const pki = makePki(pkiDir, bindAddress === "127.0.0.1" ? [] : [bindAddress]);
  // The API server's client identity towards kubelets (logs, exec, port-forward).
  const kubeletClient = clientCert(
    pki,
    "apiserver-kubelet-client",
    "/O=system:masters/CN=kube-apiserver-kubelet-client",
  );
  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const server = `https://${bindAddress}:${apiPort}`;
  const kubeconfig = join(stateDir, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(server, pki), { mode: 0o600 });
  const internalKubeconfig = join(dataDir, "admin.kubeconfig");
  writeFileSync(internalKubeconfig, kubeconfigYaml(server, pki), { mode: 0o600 });

  const procs: Record<string, ChildProcess> = {};
  const pids: Record<string, number> = {};
  const args: Record<string, string[]> = {};
  const launch = (name: string, processArgs: string[]) => {
    args[name] = processArgs;
    procs[name] = launchProcess(binDir, logDir, name, processArgs);
    pids[name] = procs[name].pid!;
  };
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const auditLog = opts.audit ? join(dataDir, "audit.log") : undefined;
  const state: ControlPlaneState = {
    kubeconfig,
    server,
    bindAddress,
    dataDir,
    stateDir,
    pids,
    args,
    binDir,
    startedAt: new Date().toISOString(),
    etcdUrl,
    auditLog,
  };
  const saveState = () => writeFileSync(join(stateDir, "state.json"), JSON.stringify(state, null, 2));

  try {
    launch("etcd", [
      "--name=local",
      `--data-dir=${join(dataDir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=local=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync=true",
      "--quota-backend-bytes=4294967296",
      "--log-level=warn",
    ]);
    saveState();
    await waitFor(
      "etcd",
      async () => {
        try {
          const r = await fetch(`http://127.0.0.1:${etcdClient}/health`);
          return r.ok;
        } catch {
          return false;
        }
      },
      30000,
      procs,
      logDir,
    );

    if (auditLog)
      writeFileSync(
        join(dataDir, "audit-policy.yaml"),
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
      );
    launch("kube-apiserver", [
      ...(auditLog
        ? [
            `--audit-policy-file=${join(dataDir, "audit-policy.yaml")}`,
            `--audit-log-path=${auditLog}`,
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
          ]
        : []),
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${bindAddress}`,
      `--advertise-address=${bindAddress}`,
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--api-audiences=https://kubernetes.default.svc.cluster.local",
      // Node + NodeRestriction: a kubelet may touch only its own node and its pods.
      "--authorization-mode=Node,RBAC",
      // OwnerReferencesPermissionEnforcement, as some distributions have it: setting blockOwnerDeletion
      // on a pod needs the right to update its owner's finalizers (the operator's Role grants it).
      "--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement",
      `--kubelet-client-certificate=${kubeletClient.cert}`,
      `--kubelet-client-key=${kubeletClient.key}`,
      `--kubelet-certificate-authority=${pki.caCert}`,
      "--kubelet-preferred-address-types=InternalIP",
      "--service-cluster-ip-range=10.96.0.0/16",
      "--allow-privileged=true",
      "--profiling=false",
      `--cert-dir=${join(dataDir, "apiserver-certs")}`,
      "--v=1",
    ]);
    saveState();
    await waitFor(
      "kube-apiserver /readyz",
      async () => (await adminGet(server, pki, "/readyz")).status === 200,
      90000,
      procs,
      logDir,
    );

    launch("kube-controller-manager", [
      `--kubeconfig=${internalKubeconfig}`,
      `--authentication-kubeconfig=${internalKubeconfig}`,
      `--authorization-kubeconfig=${internalKubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${kcmPort}`,
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.caCert}`,
      "--use-service-account-credentials=true",
      "--leader-elect=false",
      "--service-cluster-ip-range=10.96.0.0/16",
      "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route",
      // Garbage collection and namespace deletion are what the operator leans on; keep them snappy.
      "--concurrent-gc-syncs=20",
      "--concurrent-namespace-syncs=10",
      "--kube-api-qps=200",
      "--kube-api-burst=400",
      "--v=1",
    ]);
    launch("kube-scheduler", [
      `--kubeconfig=${internalKubeconfig}`,
      `--authentication-kubeconfig=${internalKubeconfig}`,
      `--authorization-kubeconfig=${internalKubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${schedPort}`,
      "--leader-elect=false",
      "--kube-api-qps=200",
      "--kube-api-burst=400",
      "--v=1",
    ]);
    launch("kwok", [
      `--kubeconfig=${internalKubeconfig}`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--cidr=10.0.0.0/16",
      "--node-ip=10.255.0.1",
      "--node-lease-duration-seconds=40",
      `--config=${join(__dirname, "kwok-stages.yaml")}`,
    ]);
    saveState();

    for (let i = 0; i < nodes.count; i++) {
      const r = await adminRequest(server, pki, "POST", "/api/v1/nodes", kwokNode(`kwok-node-${i}`, nodes));
      if (r.status !== 201 && r.status !== 409) throw new Error(`creating kwok-node-${i}: HTTP ${r.status} ${r.body}`);
    }
    await waitFor(
      `${nodes.count} Ready kwok nodes`,
      async () => {
        const r = await adminGet(server, pki, "/api/v1/nodes");
        if (r.status !== 200) return false;
        const items: any[] = JSON.parse(r.body).items;
        return (
          items.filter((n) => n.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"))
            .length >= nodes.count
        );
      },
      60000,
      procs,
      logDir,
    );
    // The service-account controller runs: namespaces get their default ServiceAccount.
    await waitFor(
      "the default ServiceAccount",
      async () => (await adminGet(server, pki, "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
      60000,
      procs,
      logDir,
    );
    log(
      `control plane up in ${((Date.now() - started) / 1000).toFixed(1)}s ` +
        `(${server}, ${nodes.count} kwok nodes of ${nodes.cpu} CPU / ${nodes.memory} / ${nodes.pods} pods)`,
    );
    return state;
  } catch (e) {
    // Keep the data directory: its logs say what went wrong.
    stopControlPlane(state, { keepData: true });
    throw e;
  }
}

/** Stops every process the control plane started (their whole process groups) and removes its data. */
export function stopControlPlane(state: ControlPlaneState, opts: { keepData?: boolean } = {}): void {
  const order = ["kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"];
  const pids = order.map((n) => state.pids[n]).filter((p): p is number => !!p);
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 10000;
  while (pids.some(processAlive) && Date.now() < deadline) execFileSync("sleep", ["0.1"]);
  for (const pid of pids.filter(processAlive)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  if (!opts.keepData && state.dataDir && existsSync(state.dataDir))
    rmSync(state.dataDir, { recursive: true, force: true });
  const stateFile = join(state.stateDir, "state.json");
  if (existsSync(stateFile)) rmSync(stateFile);
}

export function isRunning(state: ControlPlaneState): boolean {
  return Object.values(state.pids).length >= 5 && Object.values(state.pids).every(processAlive);
}
