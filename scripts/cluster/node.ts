// A real node beside the simulated ones: containerd (from Debian) with runc and the CNI bridge plugin,
// the kubelet, kube-proxy and CoreDNS (built from the Go module proxy by scripts/toolchain/k8s.sh),
// and the images built here without a registry (scripts/images/build.sh), imported into containerd.
// The facts it rests on, and the three failures specific to this machine it works around, are in
// ../shared/design/real-node.md. Everything it changes on the host is in the journal of host.ts and
// undone by `restoreHost`.
import { ChildProcess, execFileSync, spawn } from "child_process";
import { closeSync, mkdirSync, openSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { adminRequest, freePort } from "./control-plane";
import { HostJournal, NODE_NETWORK, writeJournal } from "./host";
import { clientCert, kubeconfigYaml, Pki, servingCert } from "./pki";

export const REAL_NODE_NAME = "ray-node";
/** Label of the real node (kwok nodes carry `type: kwok`). */
export const REAL_NODE_LABELS = { type: "real" };
export const IMAGES_SCRIPT = resolve(__dirname, "..", "images", "build.sh");
/** containerd's sandbox image; the images script builds it from Kubernetes' pause.c. */
const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";
const CNI_BIN_DIR = "/usr/lib/cni";

export interface ImageArchive {
  name: string;
  tarball: string;
}

/** Builds the images when missing (cached by content) and returns them. */
export function buildImages(operatorImage: string, log: (l: string) => void = () => {}): ImageArchive[] {
  const started = Date.now();
  const out = execFileSync("bash", [IMAGES_SCRIPT, operatorImage], {
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 20,
  }).toString();
  const images = out
    .trim()
    .split("\n")
    .map((l) => l.split("\t"))
    .map(([name, tarball]) => ({ name, tarball }));
  log(`images ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${images.map((i) => i.name).join(", ")}`);
  return images;
}

export interface RealNodeOptions {
  /** kubelet, kube-proxy and coredns. */
  binDir: string;
  /** The API server, at the node address. */
  server: string;
  pki: Pki;
  /** From `prepareHost`: the node's state directory and where its pids are written down. */
  journal: HostJournal;
  images: ImageArchive[];
  log?: (line: string) => void;
}

export interface RealNode {
  name: string;
  stateDir: string;
  containerdSocket: string;
  logDir: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
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

export function containerdConfig(dir: string): string {
  // restrict_oom_score_adj: this machine gives no CAP_SYS_RESOURCE, and the sandbox's
  // oom_score_adj -998 fails with "can't get final child's PID from pipe: EOF" (real-node.md).
  const disabledPlugins = [
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.internal.v1.tracing",
    "io.containerd.tracing.processor.v1.otlp",
  ]
    .map((plugin) => `"${plugin}"`)
    .join(", ");
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
oom_score = 0
disabled_plugins = [${disabledPlugins}]

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${dir}/certs.d"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${dir}/../cni/net.d"
    max_conf_num = 1
`;
}

/**
 * Every registry resolves to a closed port on loopback: the node has only the images imported into
 * it, and a pull (an image that was not built here) fails at once instead of leaving the machine.
 */
const NO_REGISTRY = `# Written by the project's node script: no registry is reachable from the local node.
server = "http://127.0.0.1:9"

[host."http://127.0.0.1:9"]
  capabilities = ["pull", "resolve"]
`;

/** One bridge for every pod, the gateway on the host side, no masquerade; host-local IPAM keeps its state with ours. */
function cniConfig(ipamDir: string): string {
  const n = NODE_NETWORK;
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "rayop-pods",
      plugins: [
        {
          type: "bridge",
          bridge: n.podBridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: ipamDir,
            ranges: [[{ subnet: n.podCidr }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
      ],
    },
    null,
    2,
  );
}

/** Starts containerd, imports the images, then the kubelet, kube-proxy and CoreDNS; resolves once the node is Ready. */
export async function startRealNode(o: RealNodeOptions): Promise<RealNode> {
  const log = o.log ?? (() => {});
  const started = Date.now();
  const dir = o.journal.stateDir;
  const n = NODE_NETWORK;
  const logDir = join(dir, "logs");
  for (const d of ["containerd", "cni/net.d", "cni/ipam", "kubelet", "pod-logs", "proxy", "dns", "logs"])
    mkdirSync(join(dir, d), { recursive: true });
  const procs: Record<string, ChildProcess> = {};
  const launch = (name: string, command: string, args: string[]) => {
    const fd = openSync(join(logDir, `${name}.log`), "a");
    const p = spawn(command, args, { detached: true, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    p.unref();
    procs[name] = p;
    o.journal.pids[name] = p.pid!;
    writeJournal(o.journal);
  };
  const admin = (method: string, path: string, body?: unknown) => adminRequest(o.server, o.pki, method, path, body);

  // containerd. Containers inherit its file limit; this machine gives no CAP_SYS_RESOURCE, so it
  // cannot be raised (the seed's `ulimit -n 65536; ray start ...` then warns, and Ray starts anyway).
  const cdir = join(dir, "containerd");
  writeFileSync(join(cdir, "config.toml"), containerdConfig(cdir));
  // `_default` applies to every registry host without a directory of its own (containerd 1.6: only
  // with a [host] entry; a lone `server` key is ignored).
  mkdirSync(join(cdir, "certs.d", "_default"), { recursive: true });
  writeFileSync(join(cdir, "certs.d", "_default", "hosts.toml"), NO_REGISTRY);
  writeFileSync(join(dir, "cni", "net.d", "10-rayop.conflist"), cniConfig(join(dir, "cni", "ipam")));
  const socket = join(cdir, "containerd.sock");
  launch("containerd", "containerd", ["--config", join(cdir, "config.toml")]);
  const ctr = (args: string[]) =>
    execFileSync("ctr", ["--address", socket, "--namespace", "k8s.io", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 1 << 24,
    }).toString();
  await waitUntil(
    "containerd",
    () => {
      try {
        ctr(["version"]);
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    procs,
    logDir,
  );
  for (const image of o.images) {
    const t0 = Date.now();
    ctr(["images", "import", "--no-unpack=false", image.tarball]);
    log(`imported ${image.name} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }

  // The kubelet: its own client certificate (system:node:<name>, for the Node authorizer and
  // NodeRestriction) and serving certificate (the API server checks it for logs and exec).
  const nodeCert = clientCert(o.pki, "kubelet-client", `/O=system:nodes/CN=system:node:${REAL_NODE_NAME}`);
  const kubeletServing = servingCert(o.pki, "kubelet-serving", REAL_NODE_NAME, [
    `IP:${n.nodeIp}`,
    `DNS:${REAL_NODE_NAME}`,
  ]);
  writeFileSync(
    join(dir, "kubelet", "kubeconfig"),
    kubeconfigYaml(o.server, o.pki, `system:node:${REAL_NODE_NAME}`, nodeCert),
    { mode: 0o600 },
  );
  // Pods resolve through cluster DNS only: an empty host resolv.conf gives them no upstream server.
  writeFileSync(join(dir, "kubelet", "resolv.conf"), "");
  const [kubeletPort, kubeletHealth, proxyHealth, proxyMetrics] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const kubeletConfig = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: n.nodeIp,
    port: kubeletPort,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: kubeletHealth,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: o.pki.caCert } },
    authorization: { mode: "Webhook" },
    tlsCertFile: kubeletServing.cert,
    tlsPrivateKeyFile: kubeletServing.key,
    containerRuntimeEndpoint: `unix://${socket}`,
    // cgroup v1 on this machine, no systemd; no CAP_SYS_RESOURCE for negative OOM scores.
    cgroupDriver: "cgroupfs",
    failCgroupV1: false,
    failSwapOn: false,
    oomScoreAdj: 0,
    clusterDNS: [n.dnsServiceIp],
    clusterDomain: "cluster.local",
    resolvConf: join(dir, "kubelet", "resolv.conf"),
    podLogsDir: join(dir, "pod-logs"),
    // This disk can be nearly full; evict only when it really is. Never collect the imported images
    // (there is no registry to pull them back from).
    evictionHard: {
      "memory.available": "100Mi",
      "nodefs.available": "1%",
      "nodefs.inodesFree": "1%",
      "imagefs.available": "1%",
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    nodeStatusReportFrequency: "10s",
  };
  writeFileSync(join(dir, "kubelet", "config.yaml"), JSON.stringify(kubeletConfig, null, 2));
  launch("kubelet", join(o.binDir, "kubelet"), [
    `--config=${join(dir, "kubelet", "config.yaml")}`,
    `--kubeconfig=${join(dir, "kubelet", "kubeconfig")}`,
    `--root-dir=${join(dir, "kubelet", "root")}`,
    `--node-ip=${n.nodeIp}`,
    `--hostname-override=${REAL_NODE_NAME}`,
    `--node-labels=${Object.entries(REAL_NODE_LABELS)
      .map(([k, v]) => `${k}=${v}`)
      .join(",")}`,
    "--v=1",
  ]);
  await waitUntil(
    `node ${REAL_NODE_NAME} Ready`,
    async () => {
      const r = await admin("GET", `/api/v1/nodes/${REAL_NODE_NAME}`);
      if (r.status !== 200) return false;
      const node = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      return !!node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    },
    90_000,
    procs,
    logDir,
  );

  // kube-proxy: Service IPs to pods, in iptables mode. It changes no sysctl it need not (conntrack
  // limits left as they are, no route_localnet) and masquerades nothing but hairpin traffic, which
  // stays on the pod bridge.
  const proxyCert = clientCert(o.pki, "kube-proxy", "/CN=system:kube-proxy");
  writeFileSync(join(dir, "proxy", "kubeconfig"), kubeconfigYaml(o.server, o.pki, "system:kube-proxy", proxyCert), {
    mode: 0o600,
  });
  const proxyConfig = {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    hostnameOverride: REAL_NODE_NAME,
    clientConnection: { kubeconfig: join(dir, "proxy", "kubeconfig") },
    healthzBindAddress: `127.0.0.1:${proxyHealth}`,
    metricsBindAddress: `127.0.0.1:${proxyMetrics}`,
    oomScoreAdj: 0,
    nodePortAddresses: [`${n.nodeIp}/32`],
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    iptables: { localhostNodePorts: false, masqueradeAll: false },
  };
  writeFileSync(join(dir, "proxy", "config.yaml"), JSON.stringify(proxyConfig, null, 2));
  o.journal.kubeProxyBinary = join(o.binDir, "kube-proxy");
  launch("kube-proxy", join(o.binDir, "kube-proxy"), [`--config=${join(dir, "proxy", "config.yaml")}`, "--v=1"]);

  // Cluster DNS: CoreDNS on the node address with only the `kubernetes` plugin (no forwarding: a
  // name outside the cluster gets no answer), behind the usual kube-dns Service.
  writeFileSync(join(dir, "dns", "kubeconfig"), kubeconfigYaml(o.server, o.pki), { mode: 0o600 });
  writeFileSync(
    join(dir, "dns", "Corefile"),
    `.:53 {
    bind ${n.nodeIp}
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${join(dir, "dns", "kubeconfig")} local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
`,
  );
  launch("coredns", join(o.binDir, "coredns"), ["-conf", join(dir, "dns", "Corefile")]);
  await ensureDnsService(admin);
  await waitUntil(
    "kube-proxy",
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${proxyHealth}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    60_000,
    procs,
    logDir,
  );
  log(
    `real node ${REAL_NODE_NAME} Ready in ${((Date.now() - started) / 1000).toFixed(1)}s ` +
      `(${n.nodeIp}, pods ${n.podCidr}, state ${dir})`,
  );
  return { name: REAL_NODE_NAME, stateDir: dir, containerdSocket: socket, logDir };
}

type Admin = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: string }>;

/** The kube-dns Service (10.96.0.10) and an EndpointSlice pointing at CoreDNS on the node address. */
async function ensureDnsService(admin: Admin): Promise<void> {
  const n = NODE_NETWORK;
  const ports = [
    { name: "dns", port: 53, protocol: "UDP" },
    { name: "dns-tcp", port: 53, protocol: "TCP" },
  ];
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: "kube-dns",
      namespace: "kube-system",
      labels: { "k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS" },
    },
    spec: { clusterIP: n.dnsServiceIp, ports: ports.map((p) => ({ ...p, targetPort: 53 })) },
  };
  const slice = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "kube-dns-node",
      namespace: "kube-system",
      labels: {
        "kubernetes.io/service-name": "kube-dns",
        "endpointslice.kubernetes.io/managed-by": "ray-k8s-operator.local",
      },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: [n.nodeIp], conditions: { ready: true }, nodeName: REAL_NODE_NAME }],
    ports,
  };
  for (const [path, body] of [
    ["/api/v1/namespaces/kube-system/services", service],
    ["/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", slice],
  ] as const) {
    const r = await admin("POST", path, body);
    if (r.status !== 201 && r.status !== 409) throw new Error(`creating ${path}: HTTP ${r.status} ${r.body}`);
  }
}
