// What of this machine a real node could leave changed, read independently of the journal that
// scripts/cluster/host.ts keeps: links, addresses and routes, every firewall rule and table, mounts,
// the sysctls the node's parts set, the host paths they hard-code, kubepods cgroups, and processes.
// Two snapshots taken around a bring-up and a teardown must be equal.
import { spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync } from "fs";
import { join } from "path";
import { HARD_CODED_PATHS } from "../../scripts/cluster/host";

const out = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  return r.status === 0 ? r.stdout.toString() : `(${cmd} ${args.join(" ")} failed: ${r.stderr})`;
};

const NODE_PROCESSES = [
  "kubelet",
  "containerd",
  "kube-proxy",
  "coredns",
  "containerd-shim",
  "containerd-shim-runc-v2",
  "raylet",
  "gcs_server",
  "pause",
];
const SYSCTLS = [
  "net/ipv4/ip_forward",
  "net/ipv4/conf/all/route_localnet",
  "net/bridge/bridge-nf-call-iptables",
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
  "net/netfilter/nf_conntrack_max",
];

export interface HostSnapshot {
  links: string[];
  addresses: string;
  routes: string;
  iptables: string;
  ip6tables: string;
  nftTables: string;
  mounts: string[];
  sysctls: Record<string, string>;
  paths: string[];
  cgroups: string[];
  processes: string[];
}

export function hostSnapshot(): HostSnapshot {
  const noCounters = (s: string) =>
    s
      .split("\n")
      .filter((l) => !l.startsWith("#"))
      .map((l) => l.replace(/ \[\d+:\d+\]$/, ""))
      .join("\n");
  const processes: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      if (NODE_PROCESSES.includes(comm)) processes.push(`${comm} ${entry}`);
    } catch {
      /* exited */
    }
  }
  const cgroups: string[] = [];
  for (const controller of existsSync("/sys/fs/cgroup") ? readdirSync("/sys/fs/cgroup") : []) {
    if (existsSync(join("/sys/fs/cgroup", controller, "kubepods")))
      cgroups.push(join("/sys/fs/cgroup", controller, "kubepods"));
  }
  return {
    links: out("ip", ["-o", "link"])
      .split("\n")
      .map((l) => l.split(":")[1]?.trim())
      .filter(Boolean)
      .sort(),
    addresses: out("ip", ["-o", "addr"]),
    routes: out("ip", ["route", "show", "table", "all"]),
    iptables: noCounters(out("iptables-save", [])),
    ip6tables: noCounters(out("ip6tables-save", [])),
    nftTables: out("nft", ["list", "tables"]),
    mounts: readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1])
      .filter(Boolean)
      .sort(),
    sysctls: Object.fromEntries(
      SYSCTLS.map((k) => [
        k,
        existsSync(join("/proc/sys", k)) ? readFileSync(join("/proc/sys", k), "utf8").trim() : "(none)",
      ]),
    ),
    paths: HARD_CODED_PATHS.filter((p) => existsSync(p)),
    cgroups,
    processes: processes.sort(),
  };
}
