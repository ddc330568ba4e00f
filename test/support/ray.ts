// A real, local Ray cluster for integration tests: a head started with `ray start --head
// --no-monitor` (the operator is the autoscaler, as in the RayCluster's default head command), and
// worker nodes that join it the way the operator's pods do, with `RAY_CLOUD_INSTANCE_ID=<pod name>` and
// `RAY_NODE_TYPE_NAME=<type>` in their environment. Plus Python drivers that put demand on it.
//
// Process hygiene, since Ray starts many processes (gcs_server, raylet, log monitor, agents, one
// Python worker per task…):
//  - every node is one `ray start --block` process started in its own process group (detached), and
//    every process Ray starts for that node inherits that group. Stopping a node = SIGTERM to the group,
//    a grace period, then SIGKILL to the group, and waiting until the group is empty. So one worker can
//    be stopped alone (`ray stop` would kill every Ray process on the machine, others' included).
//  - each node has its own temp dir, and every port a node would take by default (GCS, dashboard, the
//    agents, metrics) is a free port found at start, so tests can run beside any other Ray.
//  - drivers are process groups too; `stop()` ends everything, and an exit hook SIGKILLs any group
//    still alive if the test process dies first.
//  - everything listens and talks on 127.0.0.1: the head is told its address is loopback (Ray
//    otherwise replaces 127.0.0.1 by the machine's outward address), and workers, joining
//    127.0.0.1, take their own address from that route.
import { ChildProcess, execFileSync, spawn } from "child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "fs";
import { createServer } from "net";
import { tmpdir } from "os";
import { join, resolve } from "path";

const REPO = resolve(__dirname, "../..");

let venvPath: string | undefined;

/** The cached virtualenv with the pinned `ray` (scripts/toolchain/ray.sh), created on first use. */
export function rayVenv(): string {
  if (!venvPath) {
    const out = execFileSync("bash", [join(REPO, "scripts/toolchain/ray.sh")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 15 * 60_000,
    });
    const lines = out.trim().split("\n");
    venvPath = lines[lines.length - 1].trim();
  }
  return venvPath;
}

export const rayBin = () => join(rayVenv(), "bin", "ray");
export const rayPython = () => join(rayVenv(), "bin", "python");

/** `n` distinct free TCP ports on 127.0.0.1 (held open together while choosing, so no duplicates). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import("net").Server>((res, rej) => {
          const s = createServer();
          s.once("error", rej);
          s.listen(0, "127.0.0.1", () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import("net").AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** The environment for Ray processes: no stray RAY_* from the caller, no usage reporting. */
function rayEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("RAY_")) env[k] = v;
  return {
    ...env,
    PATH: `${join(rayVenv(), "bin")}:${process.env.PATH ?? ""}`,
    RAY_USAGE_STATS_ENABLED: "0",
    // For drivers and `ray status`: take 127.0.0.1 as it is (see LOOPBACK_RAY_CLI).
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER: "0",
    PYTHONUNBUFFERED: "1",
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// Process groups
// ---------------------------------------------------------------------------------------------

const liveGroups = new Set<number>();

interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
}

/** Every process on the machine with its parent and group, from /proc. */
function processTable(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ pid: Number(name), ppid: Number(rest[1]), pgid: Number(rest[2]) });
    } catch {
      /* exited while we looked */
    }
  }
  return out;
}

/**
 * The processes of a node: its process group, plus every descendant of those (Ray's worker processes
 * call setsid, leaving the group, but stay children of the raylet while it lives).
 */
function processTree(pgid: number): number[] {
  const table = processTable();
  const children = new Map<number, number[]>();
  for (const p of table) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const seen = new Set(table.filter((p) => p.pgid === pgid).map((p) => p.pid));
  const queue = [...seen];
  while (queue.length > 0) {
    for (const c of children.get(queue.pop()!) ?? []) {
      if (!seen.has(c)) {
        seen.add(c);
        queue.push(c);
      }
    }
  }
  return [...seen];
}

/** Processes whose working directory is `dir` or below it. */
function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      if (cwd === dir || cwd.startsWith(dir + "/")) out.push(Number(name));
    } catch {
      /* exited, or not ours to read */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function groupAlive(pgid: number): boolean {
  return alive(-pgid);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops a process group and everything it started: SIGTERM, up to `graceMs` for a clean exit, then
 * SIGKILL, and waits until not one of those processes is left (the process tree is re-read on every
 * pass, so processes forked meanwhile, or reparented to init when their parent died, are caught).
 */
export async function stopGroup(pgid: number, graceMs = 3000): Promise<void> {
  const known = new Set<number>(processTree(pgid));
  const remaining = () => {
    for (const p of processTree(pgid)) known.add(p);
    return [...known].filter(alive);
  };
  for (const p of known) signal(p, "SIGTERM");
  signal(-pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (remaining().length > 0 && Date.now() < deadline) await sleep(100);
  const killDeadline = Date.now() + 15_000;
  let left = remaining();
  while (left.length > 0 && Date.now() < killDeadline) {
    signal(-pgid, "SIGKILL");
    for (const p of left) signal(p, "SIGKILL");
    await sleep(50);
    left = remaining();
  }
  if (left.length > 0) throw new Error(`processes of group ${pgid} survived SIGKILL: ${left.join(" ")}`);
  liveGroups.delete(pgid);
}

/** Starts a command as the leader of a new process group, output collected in memory. */
function spawnGroup(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, { env, cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  liveGroups.add(child.pid);
  let out = "";
  const keep = (b: Buffer) => {
    out += b.toString("utf8");
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return { child, output: () => out };
}

// However the test process ends, leave no Ray process behind.
process.once("exit", () => {
  for (const g of liveGroups) {
    for (const p of processTree(g)) signal(p, "SIGKILL");
    signal(-g, "SIGKILL");
  }
});

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

/**
 * `ray` (the CLI) with one change: a loopback address stays loopback. Ray's CLI replaces 127.0.0.1 in
 * `--address` and `--node-ip-address` by the machine's outward IP (so that other machines could
 * reach the node); these tests must talk over loopback only. Ray's own switch for that
 * (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, set for drivers and `ray status` in rayEnv) makes `ray
 * start` refuse to start worker nodes, hence this patch of the one function, for the node processes.
 */
const LOOPBACK_RAY_CLI = [
  "import sys",
  "from ray._private import services",
  "_resolve = services.resolve_ip_for_localhost",
  "services.resolve_ip_for_localhost = lambda host: host if host == '127.0.0.1' else _resolve(host)",
  "from ray.scripts.scripts import main",
  "sys.argv = ['ray'] + sys.argv[1:]",
  "main()",
].join("\n");

export interface RayNodeOptions {
  /** `RAY_CLOUD_INSTANCE_ID`: the pod name the operator would give. */
  instanceId?: string;
  /** `RAY_NODE_TYPE_NAME`: the RayCluster pod type. */
  nodeTypeName?: string;
  numCpus?: number;
  /** Custom resources, e.g. {Custom1: 1, is_spot: 1}. */
  resources?: Record<string, number>;
  /** Object store size in bytes (100 MB by default, Ray's minimum is about 75 MB). */
  objectStoreMemory?: number;
  /** More environment for the node (e.g. RAY_OVERRIDE_RESOURCES, as the operator's pods get). */
  env?: Record<string, string>;
}

/** One `ray start --block` process and everything Ray started under it. */
export class RayNodeProcess {
  private stopped = false;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly output: () => string,
    readonly tempDir: string,
  ) {
    this.exited = new Promise((r) => child.once("exit", (code) => r(code)));
  }

  get pgid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return !this.stopped && groupAlive(this.pgid);
  }

  /** Waits until `ray start` says it is up (it prints this line once every process is started). */
  async waitStarted(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    void this.exited.then((c) => (exitCode = c));
    while (Date.now() < deadline) {
      if (this.output().includes("will now block forever")) return;
      if (exitCode !== undefined)
        throw new Error(`${this.name}: ray start exited (${exitCode}):\n${this.output().slice(-4000)}`);
      await sleep(100);
    }
    throw new Error(`${this.name}: ray start not up after ${timeoutMs} ms:\n${this.output().slice(-4000)}`);
  }

  /** Stops this node and every process of it; other nodes are untouched. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopGroup(this.pgid);
  }

  /** Kills the node at once (no graceful shutdown), as when a pod is deleted with grace 0. */
  async kill(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopGroup(this.pgid, 0);
  }
}

function nodeArgs(
  o: RayNodeOptions,
  ports: { agentHttp: number; agentGrpc: number; runtimeEnv: number; metrics: number },
): string[] {
  const args = [
    "--block",
    "--disable-usage-stats",
    `--num-cpus=${o.numCpus ?? 1}`,
    `--object-store-memory=${o.objectStoreMemory ?? 100_000_000}`,
    `--dashboard-agent-listen-port=${ports.agentHttp}`,
    `--dashboard-agent-grpc-port=${ports.agentGrpc}`,
    `--runtime-env-agent-port=${ports.runtimeEnv}`,
    `--metrics-export-port=${ports.metrics}`,
  ];
  if (o.resources && Object.keys(o.resources).length > 0) args.push(`--resources=${JSON.stringify(o.resources)}`);
  return args;
}

function nodeEnv(o: RayNodeOptions, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: Record<string, string> = { ...extra, ...(o.env ?? {}) };
  if (o.instanceId) env.RAY_CLOUD_INSTANCE_ID = o.instanceId;
  if (o.nodeTypeName) env.RAY_NODE_TYPE_NAME = o.nodeTypeName;
  // Autoscaler v2 mode, as the operator's pods run: the GCS then takes `request_resources` as
  // cluster resource constraints, and `ray status` prints the state the autoscaler reports.
  const out = rayEnv({ RAY_enable_autoscaler_v2: "1", ...env });
  // Node processes: Ray's single-machine switch would make worker nodes refuse to start.
  delete out.RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER;
  return out;
}

export interface LocalRayClusterOptions {
  head?: RayNodeOptions;
  /** Extra environment for the head (e.g. RAY_AUTH_MODE). */
  headEnv?: Record<string, string>;
  /** The GCS port (a free one by default): choose it beforehand to point an operator at the head before it runs. */
  gcsPort?: number;
}

/** A running Python driver connected to the cluster. */
export class RayDriver {
  constructor(
    readonly child: ChildProcess,
    readonly output: () => string,
  ) {}

  /** Waits for a line the script prints (e.g. "READY"); fails early if the script exits. */
  async waitFor(text: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.output().includes(text)) return;
      if (this.child.exitCode !== null)
        throw new Error(`driver exited (${this.child.exitCode}) before "${text}":\n${this.output().slice(-4000)}`);
      await sleep(100);
    }
    throw new Error(`driver: no "${text}" after ${timeoutMs} ms:\n${this.output().slice(-4000)}`);
  }

  async stop(): Promise<void> {
    await stopGroup(this.child.pid!);
  }
}

export class LocalRayCluster {
  private readonly workers = new Map<string, RayNodeProcess>();
  private readonly drivers: RayDriver[] = [];
  private workerSeq = 0;
  private headNode!: RayNodeProcess;

  private constructor(
    private readonly opts: LocalRayClusterOptions,
    private readonly gcsPort: number,
    readonly rootDir: string,
  ) {
    this.gcsAddress = `127.0.0.1:${gcsPort}`;
  }

  /** `127.0.0.1:<port>` of the head's GCS. */
  readonly gcsAddress: string;

  /** The head node. */
  get head(): RayNodeProcess {
    return this.headNode;
  }

  /** Starts a head node; resolves once `ray start` reports it up. */
  static async start(opts: LocalRayClusterOptions = {}): Promise<LocalRayCluster> {
    const rootDir = mkdtempSync(join(tmpdir(), "rayop-"));
    const gcs = opts.gcsPort ?? (await freePorts(1))[0];
    const cluster = new LocalRayCluster(opts, gcs, rootDir);
    try {
      await cluster.spawnHead();
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  private async spawnHead(): Promise<RayNodeProcess> {
    const [dashboard, agentHttp, agentGrpc, runtimeEnv, metrics] = await freePorts(5);
    const head = this.opts.head ?? {};
    const tempDir = join(this.rootDir, "h");
    const args = [
      "start",
      "--head",
      "--no-monitor",
      `--port=${this.gcsPort}`,
      "--node-ip-address=127.0.0.1",
      "--include-dashboard=false",
      `--dashboard-port=${dashboard}`,
      `--temp-dir=${tempDir}`,
      ...nodeArgs(head, { agentHttp, agentGrpc, runtimeEnv, metrics }),
    ];
    const env = nodeEnv(head, this.opts.headEnv ?? {});
    const { child, output } = spawnGroup(rayPython(), ["-c", LOOPBACK_RAY_CLI, ...args], env, this.rootDir);
    this.headNode = new RayNodeProcess("head", child, output, tempDir);
    await this.headNode.waitStarted();
    return this.headNode;
  }

  /**
   * Freezes every process of the head (SIGSTOP), as a head machine that stops answering: its GCS
   * accepts no call until `resumeHead`. Nothing is lost; `stop()` still ends it.
   */
  pauseHead(): void {
    for (const p of processTree(this.headNode.pgid)) signal(p, "SIGSTOP");
  }

  /** Lets a paused head run again (SIGCONT). */
  resumeHead(): void {
    for (const p of processTree(this.headNode.pgid)) signal(p, "SIGCONT");
  }

  /** Starts a worker node joining the head; resolves once its `ray start` reports it up. */
  async addWorker(opts: RayNodeOptions = {}): Promise<RayNodeProcess> {
    const seq = ++this.workerSeq;
    const name = opts.instanceId ?? `worker-${seq}`;
    if (this.workers.has(name)) throw new Error(`worker ${name} already exists`);
    const [agentHttp, agentGrpc, runtimeEnv, metrics] = await freePorts(4);
    // Short paths: Ray puts Unix sockets under the temp dir, and socket paths are limited to 107 bytes.
    const tempDir = join(this.rootDir, `w${seq}`);
    const args = [
      "start",
      `--address=${this.gcsAddress}`,
      "--node-ip-address=127.0.0.1",
      `--temp-dir=${tempDir}`,
      ...nodeArgs(opts, { agentHttp, agentGrpc, runtimeEnv, metrics }),
    ];
    const { child, output } = spawnGroup(rayPython(), ["-c", LOOPBACK_RAY_CLI, ...args], nodeEnv(opts), this.rootDir);
    const node = new RayNodeProcess(name, child, output, tempDir);
    this.workers.set(name, node);
    await node.waitStarted();
    return node;
  }

  worker(name: string): RayNodeProcess | undefined {
    return this.workers.get(name);
  }

  /** Stops one worker (and only it). */
  async stopWorker(name: string): Promise<void> {
    const w = this.workers.get(name);
    if (!w) throw new Error(`no worker ${name}`);
    await w.stop();
    this.workers.delete(name);
  }

  /**
   * Runs a Python driver connected to this cluster (`ray.init(address=...)` is done for it: the
   * script starts with `ray` imported and connected). It keeps running until it exits or is stopped,
   * so the demand it creates stays pending; print a marker line and `waitFor` it.
   */
  startDriver(script: string): RayDriver {
    const file = join(this.rootDir, `driver-${this.drivers.length + 1}.py`);
    const prelude = [
      "import sys, time, ray",
      `ray.init(address=${JSON.stringify(this.gcsAddress)}, logging_level="ERROR", log_to_driver=False)`,
      "",
    ].join("\n");
    writeFileSync(file, prelude + script + "\n");
    const { child, output } = spawnGroup(rayPython(), [file], rayEnv(), this.rootDir);
    const d = new RayDriver(child, output);
    this.drivers.push(d);
    return d;
  }

  /** `ray status` of this cluster (the text `ray status` prints), or its error output. */
  rayStatus(verbose = false): string {
    try {
      return execFileSync(rayBin(), ["status", `--address=${this.gcsAddress}`, ...(verbose ? ["-v"] : [])], {
        env: rayEnv(),
        encoding: "utf8",
        timeout: 60_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      return `${err.stdout ?? ""}${err.stderr ?? ""}${err.message}`;
    }
  }

  /**
   * Every process of this cluster still alive: those of its nodes' and drivers' process trees, and
   * any process whose working directory is under this cluster's root (every Ray process here runs
   * there, even a worker orphaned by a raylet that was killed).
   */
  liveProcesses(): number[] {
    const groups = [
      ...(this.headNode ? [this.headNode.pgid] : []),
      ...[...this.workers.values()].map((w) => w.pgid),
      ...this.drivers.map((d) => d.child.pid!),
    ];
    const pids = new Set(groups.flatMap(processTree));
    for (const p of processesUnder(this.rootDir)) pids.add(p);
    return [...pids].filter(alive);
  }

  /** Stops drivers, workers, then the head; removes the temp dirs. */
  async stop(): Promise<void> {
    for (const d of this.drivers) await d.stop();
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
    if (this.headNode) {
      this.resumeHead(); // a paused head would only die at SIGKILL
      await this.headNode.stop();
    }
    // Orphans (a Ray worker whose raylet was killed leaves the tree): found by working directory.
    for (let i = 0; i < 100; i++) {
      const left = processesUnder(this.rootDir);
      if (left.length === 0) break;
      for (const p of left) signal(p, i < 20 ? "SIGTERM" : "SIGKILL");
      await sleep(100);
    }
    const left = processesUnder(this.rootDir);
    if (left.length > 0) throw new Error(`Ray processes left running: ${left.join(" ")}`);
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}
