// Runs the real operator process beside the test control plane: the bundle the image ships
// (dist/operator/main.js, built by `npm run build` as operator/Dockerfile builds it), started with the
// image's own node arguments (its ENTRYPOINT), authenticated as the operator's ServiceAccount with a
// real token, so the runtime and the RBAC under test are the ones shipped.
import { ChildProcess, execFileSync, spawn } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import * as k8s from "@kubernetes/client-node";
import { ROOT } from "./pulumi-cli";
import { freePort } from "./cluster/control-plane";

let built = false;

/** Bundles the operator once per test run, exactly as the Dockerfile does (the `build` npm script). */
export function buildOperator(): string {
  const main = join(ROOT, "dist", "operator", "main.js");
  if (!built) {
    execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
    built = true;
  }
  if (!existsSync(main) || statSync(main).size === 0) throw new Error(`the build did not produce ${main}`);
  return main;
}

/**
 * operator/Dockerfile's instructions, one per entry, as Docker reads them: a line ending in a
 * backslash joined with the next, comments and blank lines left out.
 */
export function dockerfileInstructions(): string[] {
  return readFileSync(join(ROOT, "operator", "Dockerfile"), "utf8")
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

/**
 * The node arguments of the image's ENTRYPOINT (`["node", ...args, "main.js"]` in operator/Dockerfile):
 * V8's sizing and source maps, so the operator under test runs as the shipped one does.
 */
export function imageNodeArgs(): string[] {
  const line = dockerfileInstructions().find((l) => l.startsWith("ENTRYPOINT "));
  if (!line) throw new Error("operator/Dockerfile has no ENTRYPOINT");
  const entry: unknown = JSON.parse(line.slice("ENTRYPOINT ".length));
  if (!Array.isArray(entry) || entry[0] !== "node" || entry.some((a) => typeof a !== "string"))
    throw new Error(`operator/Dockerfile: ENTRYPOINT is not ["node", ...args, "main.js"]: ${line}`);
  return (entry as string[]).slice(1, -1);
}

/** Prometheus text exposition as its samples: `name{labels}` → value (comments and blank lines skipped). */
export function prometheusSamples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** A KubeConfig that authenticates with `token` against the cluster of `kc`. */
export function kubeConfigWithToken(kc: k8s.KubeConfig, token: string, namespace: string): k8s.KubeConfig {
  const cluster = kc.getCurrentCluster()!;
  const out = new k8s.KubeConfig();
  out.loadFromOptions({
    clusters: [
      {
        name: "c",
        server: cluster.server,
        caFile: cluster.caFile,
        caData: cluster.caData,
        skipTLSVerify: cluster.skipTLSVerify,
      },
    ],
    users: [{ name: "operator", token }],
    contexts: [{ name: "operator", cluster: "c", user: "operator", namespace }],
    currentContext: "operator",
  });
  return out;
}

/** The directories of the kubeconfigs written below: removed when this process exits. */
const tokenKubeconfigDirs: string[] = [];
process.once("exit", () => {
  for (const dir of tokenKubeconfigDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Writes a kubeconfig that authenticates with `token` against the cluster of `kc`; returns its path.
 * The file lives until this process exits.
 */
export function writeKubeconfigWithToken(kc: k8s.KubeConfig, token: string, namespace: string): string {
  const dir = mkdtempSync(join(tmpdir(), "ray-operator-sa-"));
  tokenKubeconfigDirs.push(dir);
  const file = join(dir, "kubeconfig");
  writeFileSync(file, kubeConfigWithToken(kc, token, namespace).exportConfig(), { mode: 0o600 });
  return file;
}

/** A token for a ServiceAccount from the TokenRequest API, as the kubelet would mount one. */
export async function serviceAccountToken(
  kc: k8s.KubeConfig,
  namespace: string,
  name: string,
  expirationSeconds = 7200,
): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { expirationSeconds, audiences: [] } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ServiceAccount ${namespace}/${name} returned no token`);
  return token;
}

export class OperatorProcess {
  private proc?: ChildProcess;
  private out = "";
  healthPort = 0;
  metricsPort = 0;

  constructor(
    private readonly kubeconfig: string,
    private readonly env: Record<string, string>,
    /** Extra `node` flags (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
    private readonly nodeArgs: string[] = [],
    /**
     * Another build of the operator and the node arguments it ships with, instead of this tree's
     * bundle (the benchmark's baseline: `BENCH_BASELINE`).
     */
    private readonly entry?: { main: string; nodeArgs: string[] },
  ) {}

  async start(): Promise<this> {
    const main = this.entry?.main ?? buildOperator();
    const shipped = this.entry?.nodeArgs ?? imageNodeArgs();
    this.healthPort = await freePort();
    this.metricsPort = await freePort();
    this.out = "";
    this.proc = spawn(process.execPath, [...shipped, ...this.nodeArgs, main], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        KUBECONFIG: this.kubeconfig,
        HEALTH_PORT: String(this.healthPort),
        METRICS_PORT: String(this.metricsPort),
        LOG_LEVEL: "info",
        ...this.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout!.on("data", (d) => (this.out += d));
    this.proc.stderr!.on("data", (d) => (this.out += d));
    return this;
  }

  logs(): string {
    return this.out;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async get(path: string, port = this.healthPort): Promise<{ status: number; body: string }> {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: r.status, body: await r.text() };
  }

  /** The operator's Prometheus metrics, sample by sample: `name{labels}` → value. */
  async metrics(): Promise<Map<string, number>> {
    return prometheusSamples((await this.get("/metrics", this.metricsPort)).body);
  }

  /** Stops the process with `signal` and waits for it to exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    const p = this.proc;
    if (!p || !this.running()) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
    p.kill(signal);
    const timer = setTimeout(() => p.kill("SIGKILL"), 25_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
