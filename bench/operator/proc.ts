// What the kernel says about a process, the same way for every operator the benchmark runs (a Node.js
// process reports its own memory through its metrics, a Go one through others): /proc, read at the
// instant the caller chooses.
import { readFileSync } from "fs";

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
