// What the real node changes on this machine, written down before it is changed and put back on
// teardown: the node and pod bridges, a firewall chain that keeps the pod network on the machine,
// sysctls that the kubelet, kube-proxy and the CNI bridge plugin set, and the host paths those tools
// hard-code. The journal lives at a fixed path, so a run that died half-way (a killed test run) is
// cleaned up by the next bring-up or by `npm run cluster:down`, and a second real node on the same
// machine is refused while the first one's owner is alive.
import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "fs";
import { dirname, join } from "path";

/** Addresses of the real node. None of them is routed anywhere but to the links made here. */
export const NODE_NETWORK = {
  /** The node's own address, on a port-less bridge (this kernel has no `dummy` links). */
  nodeIp: "10.201.0.1",
  nodeBridge: "rayop-node0",
  /** The pod network, on the CNI bridge plugin's bridge. */
  podCidr: "10.244.0.0/24",
  podBridge: "rayop-cni0",
  serviceCidr: "10.96.0.0/16",
  /** The `kubernetes` Service (first address of the range) and the cluster DNS Service. */
  apiServiceIp: "10.96.0.1",
  dnsServiceIp: "10.96.0.10",
} as const;

/** Our chain in the filter table: what comes from the pod range may go only to pods and to the node. */
export const FIREWALL_CHAIN = "RAYOP-NODE";

/**
 * Sysctls that the node's parts may set: the CNI bridge plugin (`isGateway` turns on forwarding),
 * kube-proxy (route_localnet, conntrack) and the kubelet (its kernel tunables).
 */
const SYSCTLS = [
  "net/ipv4/ip_forward",
  "net/ipv4/conf/all/route_localnet",
  "net/bridge/bridge-nf-call-iptables",
  "net/bridge/bridge-nf-call-ip6tables",
  "net/netfilter/nf_conntrack_max",
  "net/netfilter/nf_conntrack_tcp_timeout_established",
  "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
];

/**
 * Paths the kubelet, containerd and CNI use whatever they are told; removed on teardown if they were not
 * here before.
 */
export const HARD_CODED_PATHS = [
  "/var/lib/kubelet",
  "/var/log/pods",
  "/var/log/containers",
  "/run/containerd",
  "/opt/containerd",
  "/var/lib/cni",
  "/run/netns",
];

const CGROUP_ROOT = "/sys/fs/cgroup";
const IPTABLES = ["iptables", "ip6tables"] as const;
const TABLES = ["filter", "nat", "mangle"] as const;

export interface HostJournal {
  /** Process that owns the node (the test run or `cluster:up`); a live owner means "in use". */
  ownerPid: number;
  ownerStartedAt: string;
  /** Where the node's own state lives (containerd's root, the kubelet's root dir, logs). */
  stateDir: string;
  sysctls: Record<string, string>;
  /** Hard-coded paths that existed before, so teardown leaves them. */
  preexistingPaths: string[];
  /** iptables chains per binary and table that existed before (kubelet and kube-proxy use fixed names). */
  preexistingChains: Record<string, string[]>;
  /** kubepods cgroups that existed before, per controller. */
  preexistingCgroups: string[];
  /** Processes the node started (their process groups are stopped on teardown). */
  pids: Record<string, number>;
  /** For `kube-proxy --cleanup` on teardown. */
  kubeProxyBinary?: string;
  /** nf_tables tables (`ip filter`, `ip6 nat`...) iptables had made before; the others are removed once empty. */
  preexistingTables: string[];
}

export const JOURNAL_FILE = "/run/ray-k8s-operator/real-node.json";

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const tryRun = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });

export function readJournal(): HostJournal | undefined {
  try {
    return JSON.parse(readFileSync(JOURNAL_FILE, "utf8")) as HostJournal;
  } catch {
    return undefined;
  }
}

export function writeJournal(j: HostJournal): void {
  mkdirSync(dirname(JOURNAL_FILE), { recursive: true });
  writeFileSync(JOURNAL_FILE, JSON.stringify(j, null, 2));
}

/** The process exists and has not exited (a zombie, exited but not yet reaped by its parent, counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The real node can run here: root, Linux, the tools on PATH, and no other owner. Returns why not, or undefined. */
export function whyNoRealNode(): string | undefined {
  if (process.platform !== "linux") return "the real node needs Linux";
  if (process.getuid?.() !== 0) return "the real node needs root (links, iptables, mounts, cgroups)";
  for (const tool of ["ip", "iptables", "containerd", "containerd-shim-runc-v2", "runc", "ctr"]) {
    if (tryRun("sh", ["-c", `command -v ${tool}`]).status !== 0)
      return `${tool} is not installed (apt-get install containerd runc containernetworking-plugins iptables)`;
  }
  if (!existsSync("/usr/lib/cni/bridge"))
    return "the CNI plugins are not installed (apt-get install containernetworking-plugins)";
  const j = readJournal();
  if (j && j.ownerPid !== process.pid && processAlive(j.ownerPid)) {
    return (
      `a real node already runs on this machine (owner pid ${j.ownerPid}, since ${j.ownerStartedAt}, ` +
      `state ${j.stateDir}); one per machine: stop it first (npm run cluster:down, or end the test run that owns it)`
    );
  }
  return undefined;
}

/** The tables iptables (nf_tables backend) has made, as `[family, table]`: `ip filter`, `ip6 nat`... */
function iptablesTables(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [bin, family] of [
    ["iptables-save", "ip"],
    ["ip6tables-save", "ip6"],
  ] as const) {
    const r = tryRun(bin, []);
    for (const m of r.stdout.toString().matchAll(/^\*(\w+)$/gm)) out.push([family, m[1]]);
  }
  return out;
}

/** Deletes an nf_tables table if nothing but empty built-in chains is left in it. */
function deleteTableIfEmpty(family: string, table: string): void {
  const r = tryRun("nft", ["-j", "list", "table", family, table]);
  if (r.status !== 0) return;
  const items = (JSON.parse(r.stdout.toString()) as { nftables: Array<Record<string, unknown>> }).nftables;
  if (items.some((i) => "rule" in i || "set" in i || "map" in i)) return;
  tryRun("nft", ["delete", "table", family, table]);
}

function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(join("/proc/sys", key), "utf8").trim();
  } catch {
    return undefined;
  }
}

function chains(bin: string, table: string): string[] {
  const r = tryRun(bin, ["-w", "-t", table, "-S"]);
  if (r.status !== 0) return [];
  return r.stdout
    .toString()
    .split("\n")
    .filter((l) => l.startsWith("-N "))
    .map((l) => l.slice(3).trim());
}

function kubepodsCgroups(): string[] {
  const out: string[] = [];
  if (!existsSync(CGROUP_ROOT)) return out;
  for (const controller of readdirSync(CGROUP_ROOT)) {
    const p = join(CGROUP_ROOT, controller, "kubepods");
    if (existsSync(p)) out.push(p);
  }
  return out;
}

/**
 * Writes down the machine as it is, then makes the node's address: a port-less bridge carrying the
 * node IP (the API server binds it, pods reach it through their gateway), a route that keeps the
 * Service range on that bridge (a Service IP with no rule never goes out through the uplink), and the
 * firewall chain. Call it before starting an API server that binds the node IP.
 */
export function prepareHost(stateDir: string): HostJournal {
  const why = whyNoRealNode();
  if (why) throw new Error(why);
  const stale = readJournal();
  if (stale) restoreHost(stale);

  const preexistingChains: Record<string, string[]> = {};
  for (const bin of IPTABLES) for (const t of TABLES) preexistingChains[`${bin}/${t}`] = chains(bin, t);
  const sysctls: Record<string, string> = {};
  for (const k of SYSCTLS) {
    const v = readSysctl(k);
    if (v !== undefined) sysctls[k] = v;
  }
  const journal: HostJournal = {
    ownerPid: process.pid,
    ownerStartedAt: new Date().toISOString(),
    stateDir,
    sysctls,
    preexistingPaths: HARD_CODED_PATHS.filter((p) => existsSync(p)),
    preexistingChains,
    preexistingCgroups: kubepodsCgroups(),
    pids: {},
    preexistingTables: iptablesTables().map((t) => t.join(" ")),
  };
  // Written before the first change, so a crash at any point below is undone by the next teardown;
  // created exclusively, so of two runs starting at once only one gets the host.
  mkdirSync(dirname(JOURNAL_FILE), { recursive: true });
  try {
    writeFileSync(JOURNAL_FILE, JSON.stringify(journal, null, 2), { flag: "wx" });
  } catch {
    throw new Error(whyNoRealNode() ?? "another run took the real node at the same moment");
  }

  const n = NODE_NETWORK;
  run("ip", ["link", "add", n.nodeBridge, "type", "bridge"]);
  run("ip", ["addr", "add", `${n.nodeIp}/32`, "dev", n.nodeBridge]);
  run("ip", ["link", "set", n.nodeBridge, "up"]);
  run("ip", ["route", "add", n.serviceCidr, "dev", n.nodeBridge, "src", n.nodeIp]);
  // No masquerade anywhere, and nothing from the pod range forwarded off the machine. Established
  // traffic is answered; new traffic may go to pods (also after a Service's DNAT) and to the node.
  run("iptables", ["-w", "-N", FIREWALL_CHAIN]);
  for (const rule of [
    ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"],
    ["-d", n.podCidr, "-j", "RETURN"],
    ["-d", `${n.nodeIp}/32`, "-j", "RETURN"],
    ["-j", "DROP"],
  ])
    run("iptables", ["-w", "-A", FIREWALL_CHAIN, ...rule]);
  for (const hook of ["INPUT", "FORWARD"])
    run("iptables", ["-w", "-I", hook, "1", "-s", n.podCidr, "-j", FIREWALL_CHAIN]);
  return journal;
}

/** Mount points at or under any of `roots`, deepest first. */
function mountsUnder(roots: string[]): string[] {
  const points = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, " "))
    .filter((p) => roots.some((r) => p === r || p.startsWith(`${r}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

function unmountAll(roots: string[]): void {
  // Bind mounts can stack; go round until nothing under the roots is mounted.
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(roots);
    if (!points.length) return;
    for (const p of points) if (tryRun("umount", [p]).status !== 0) tryRun("umount", ["-l", p]);
  }
}

function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
  try {
    rmdirSync(dir);
  } catch {
    /* a process is still in it; reported by the caller's check */
  }
}

function deleteChains(bin: string, table: string, keep: Set<string>, match: (chain: string) => boolean): void {
  const doomed = chains(bin, table).filter((c) => match(c) && !keep.has(c));
  if (!doomed.length) return;
  // First every rule that jumps to one of them (from any chain), then the chains themselves.
  const rules = tryRun(bin, ["-w", "-t", table, "-S"]).stdout.toString().split("\n");
  for (const r of rules) {
    if (!r.startsWith("-A ")) continue;
    const target = / -j (\S+)/.exec(r)?.[1];
    if (target && doomed.includes(target)) tryRun(bin, ["-w", "-t", table, ...r.replace(/^-A /, "-D ").split(" ")]);
  }
  for (const c of doomed) tryRun(bin, ["-w", "-t", table, "-F", c]);
  for (const c of doomed) tryRun(bin, ["-w", "-t", table, "-X", c]);
}

/** Stops a process group (SIGTERM, then SIGKILL after `graceMs`). */
export function stopGroup(pid: number, graceMs = 5000): void {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      try {
        process.kill(pid, s);
      } catch {
        /* gone */
      }
    }
  };
  if (!processAlive(pid)) return;
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (processAlive(pid) && Date.now() < deadline) execFileSync("sleep", ["0.1"]);
  if (processAlive(pid)) signal("SIGKILL");
}

/** Every process whose command line mentions `needle` (the containerd shims of our socket, say). */
export function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) out.push(Number(entry));
    } catch {
      /* exited */
    }
  }
  return out.filter((p) => p !== process.pid);
}

/** Every descendant of `pid` (children first listed last, so killing in order stops parents last). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* exited */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Kills `pid` and everything under it at once (container processes under a shim). */
export function killTree(pid: number): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

/**
 * Puts the machine back as the journal found it: stops the node's processes and every container
 * (shims of the node's containerd and what runs under them), unmounts what they mounted, removes the
 * links, the firewall chain and the kubelet's and kube-proxy's chains, the kubepods cgroups, the
 * hard-coded paths that were not there before, and restores the sysctls. Safe to call twice, and on
 * a half-made node. Returns what could not be undone (empty when the machine is as it was).
 */
export function restoreHost(j: HostJournal, log: (l: string) => void = () => {}): string[] {
  const n = NODE_NETWORK;
  // The kubelet first, so nothing restarts containers; then the rest of the node's processes.
  const order = ["kubelet", "kube-proxy", "coredns", "containerd"];
  const names = [...order.filter((k) => j.pids[k]), ...Object.keys(j.pids).filter((k) => !order.includes(k))];
  for (const name of names) stopGroup(j.pids[name]);
  // Shims outlive containerd; their containers are their descendants.
  for (const shim of pidsMentioning(join(j.stateDir, "containerd"))) killTree(shim);
  // kube-proxy's own cleanup knows its rules in both families; what it leaves is removed below.
  if (j.kubeProxyBinary && existsSync(j.kubeProxyBinary)) tryRun(j.kubeProxyBinary, ["--cleanup"]);

  unmountAll([j.stateDir, ...HARD_CODED_PATHS]);
  for (const p of HARD_CODED_PATHS)
    if (!j.preexistingPaths.includes(p) && existsSync(p)) rmSync(p, { recursive: true, force: true });

  // Veths left by sandboxes whose network namespace is gone vanish with it; any still attached go now.
  const links = tryRun("ip", ["-o", "link", "show", "master", n.podBridge]).stdout.toString();
  for (const m of links.matchAll(/^\d+: ([^:@]+)[@:]/gm)) tryRun("ip", ["link", "del", m[1]]);
  for (const link of [n.podBridge, n.nodeBridge]) tryRun("ip", ["link", "del", link]);

  for (const hook of ["INPUT", "FORWARD"])
    while (tryRun("iptables", ["-w", "-D", hook, "-s", n.podCidr, "-j", FIREWALL_CHAIN]).status === 0);
  tryRun("iptables", ["-w", "-F", FIREWALL_CHAIN]);
  tryRun("iptables", ["-w", "-X", FIREWALL_CHAIN]);
  // The kubelet's and kube-proxy's chains (KUBE-*) and the CNI plugins' (CNI-*), unless they were here before.
  for (const bin of IPTABLES) {
    for (const t of TABLES)
      deleteChains(
        bin,
        t,
        new Set(j.preexistingChains[`${bin}/${t}`] ?? []),
        (c) => c.startsWith("KUBE-") || c.startsWith("CNI-"),
      );
  }

  for (const dir of kubepodsCgroups()) if (!j.preexistingCgroups.includes(dir)) removeCgroupTree(dir);

  for (const [k, v] of Object.entries(j.sysctls)) {
    if (readSysctl(k) !== v) {
      try {
        writeFileSync(join("/proc/sys", k), v);
      } catch (e) {
        log(`could not restore ${k}=${v}: ${(e as Error).message}`);
      }
    }
  }
  for (const [family, table] of iptablesTables())
    if (!j.preexistingTables.includes(`${family} ${table}`)) deleteTableIfEmpty(family, table);
  const left = leftovers(j);
  if (!left.length) rmSync(JOURNAL_FILE, { force: true });
  return left;
}

/** What of the node is still on the machine (processes, links, chains, mounts, paths, cgroups, sysctls). */
export function leftovers(j: HostJournal): string[] {
  const left: string[] = [];
  for (const [name, pid] of Object.entries(j.pids)) if (processAlive(pid)) left.push(`process ${name} (${pid})`);
  for (const pid of pidsMentioning(join(j.stateDir, "containerd"))) left.push(`process ${pid} (a containerd shim)`);
  for (const link of [NODE_NETWORK.podBridge, NODE_NETWORK.nodeBridge])
    if (tryRun("ip", ["link", "show", link]).status === 0) left.push(`link ${link}`);
  for (const bin of IPTABLES) {
    for (const t of TABLES) {
      const before = new Set(j.preexistingChains[`${bin}/${t}`] ?? []);
      for (const c of chains(bin, t))
        if (!before.has(c) && (c.startsWith("KUBE-") || c.startsWith("CNI-") || c === FIREWALL_CHAIN))
          left.push(`${bin} -t ${t} chain ${c}`);
    }
  }
  for (const m of mountsUnder([j.stateDir, ...HARD_CODED_PATHS])) left.push(`mount ${m}`);
  for (const p of HARD_CODED_PATHS) if (!j.preexistingPaths.includes(p) && existsSync(p)) left.push(`path ${p}`);
  for (const dir of kubepodsCgroups()) if (!j.preexistingCgroups.includes(dir)) left.push(`cgroup ${dir}`);
  for (const [k, v] of Object.entries(j.sysctls))
    if (readSysctl(k) !== v) left.push(`sysctl ${k}=${readSysctl(k)} (was ${v})`);
  return left;
}
