// What the kernel says about a process, the same way for every operator the benchmark runs (a Node.js
// process reports its own memory through its metrics, a Go one through others): /proc, read at the
// instant the caller chooses.
import { readFileSync } from "fs";
import { fmt } from "./stats";

/** Resident memory (VmRSS of /proc/<pid>/status) in MiB; NaN when the process is gone. */
export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return line ? Number(line[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds used so far (utime + stime of /proc/<pid>/stat, every thread); 0 when the process is gone. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // The command name may hold spaces and parentheses: fields are counted from the last ") ".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by each process of `pids`, the operator and this script, by name. */
export function cpuByProcess(pids: Record<string, number>, operatorPid: number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) out[name] = cpuSecondsOf(pid);
  out.operator = cpuSecondsOf(operatorPid);
  const self = process.cpuUsage();
  out.bench = (self.user + self.system) / 1e6;
  return out;
}

/** CPU seconds used so far by every process of a cgroup v1 cpuacct group (e.g. the kubelet's `kubepods`). */
export function cgroupCpuSeconds(group: string): number {
  try {
    return Number(readFileSync(`/sys/fs/cgroup/cpuacct/${group}/cpuacct.usage`, "utf8")) / 1e9;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine has been busy (every core, all but idle and iowait; /proc/stat). */
export function machineBusySeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8")
    .split("\n")[0]
    .split(/\s+/)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

/**
 * What was used between two readings, by name. A `machine` reading (machineBusySeconds) becomes
 * `others`: what the rest of the machine used beside the named processes.
 */
export function cpuDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b)) out[k] = Math.round((b[k] - (a[k] ?? 0)) * 100) / 100;
  if (out.machine !== undefined) {
    const { machine, ...named } = out;
    const ours = Object.values(named).reduce((x, y) => x + y, 0);
    return { ...named, others: Math.round((machine - ours) * 100) / 100 };
  }
  return out;
}

/** CPU seconds by process, and their total. */
export function fmtCpu(c: Record<string, number>): string {
  const total = Object.values(c).reduce((x, y) => x + y, 0);
  return `${Object.entries(c)
    .map(([k, v]) => `${k} ${fmt(v, 1)}`)
    .join(", ")} (total ${fmt(total, 1)})`;
}
