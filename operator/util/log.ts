// Logs as the seed printed them: one line per action, and per-cluster lines prefixed `<cluster>:` so
// `kubectl logs <operator pod> | grep ^example-cluster2:` selects one cluster.
//   example-cluster2:2026-11-27 10:52:01,123 INFO reconcile -- Created worker pod example-cluster2-ray-worker-x7k2p
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A logger whose lines start with `<cluster>:`. */
  forCluster(cluster: string): Logger;
  child(component: string): Logger;
}

function timestamp(d = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const date = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}`;
  const time = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())},${p(d.getUTCMilliseconds(), 3)}`;
  return `${date} ${time}`;
}

export function createLogger(
  level: Level = "info",
  write: (line: string) => void = (l) => process.stdout.write(l + "\n"),
  component = "operator",
  prefix = "",
): Logger {
  const emit = (lvl: Level, msg: string) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const head = `${prefix}${timestamp()} ${lvl.toUpperCase()} ${component} -- `;
    // Every line of a multi-line message carries the prefix, so grep keeps the whole block.
    const lines = msg.split("\n");
    write(head + lines[0]);
    for (const l of lines.slice(1)) write(`${prefix}${l}`);
  };
  return {
    debug: (m) => emit("debug", m),
    info: (m) => emit("info", m),
    warn: (m) => emit("warn", m),
    error: (m) => emit("error", m),
    forCluster: (cluster) => createLogger(level, write, component, `${cluster}:`),
    child: (c) => createLogger(level, write, c, prefix),
  };
}
