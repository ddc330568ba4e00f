// Running the real Pulumi CLI for this project without an account or network: the binaries built
// by scripts/toolchain/pulumi.sh on PATH (the provider as an ambient plugin, so nothing is
// downloaded), a local file backend and a passphrase secrets provider.
import { execFileSync, spawn } from "child_process";
import { mkdirSync } from "fs";
import { resolve } from "path";

export const ROOT = resolve(__dirname, "..");
export const PULUMI_TOOLCHAIN_SCRIPT = resolve(__dirname, "toolchain", "pulumi.sh");

/** Builds the Pulumi binaries when missing and returns their directory. */
export function ensurePulumi(): string {
  const out = execFileSync("bash", [PULUMI_TOOLCHAIN_SCRIPT], { stdio: ["ignore", "pipe", "inherit"] })
    .toString()
    .trim()
    .split("\n");
  return out[out.length - 1];
}

export interface PulumiEnvOptions {
  binDir: string;
  /** Directory of the local file backend (state). */
  stateDir: string;
  kubeconfig: string;
  passphrase?: string;
}

/**
 * What to tell the user when the stack's secrets are encrypted with an empty passphrase, which anyone
 * with the state directory can decrypt; undefined when a passphrase is set. The scripts always pass
 * PULUMI_CONFIG_PASSPHRASE (empty when unset, see pulumiEnv), which Pulumi then prefers to a passphrase file.
 */
export function emptyPassphraseWarning(passphrase = process.env.PULUMI_CONFIG_PASSPHRASE): string | undefined {
  if (passphrase) return undefined;
  return (
    "warning: PULUMI_CONFIG_PASSPHRASE is empty: the stack's secrets (pulumi config set --secret) are not " +
    "protected; anyone who can read .pulumi-state/ can read them. Set PULUMI_CONFIG_PASSPHRASE (and keep " +
    "it) before storing a secret."
  );
}

export function pulumiEnv(o: PulumiEnvOptions): NodeJS.ProcessEnv {
  mkdirSync(o.stateDir, { recursive: true });
  return {
    ...process.env,
    PATH: `${o.binDir}:${process.env.PATH ?? ""}`,
    PULUMI_BACKEND_URL: `file://${o.stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: o.passphrase ?? "",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    KUBECONFIG: o.kubeconfig,
    // The Kubernetes provider takes its cluster from KUBECONFIG; never from an ambient context.
    PULUMI_K8S_DELETE_UNREACHABLE: "false",
  };
}

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `pulumi <args>` in the project directory; streams output when `echo` is set. Aborting
 * `signal` interrupts it as Ctrl-C would (Pulumi then cancels the update cleanly).
 */
export function pulumi(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { echo?: boolean; cwd?: string; signal?: AbortSignal } = {},
): Promise<PulumiResult> {
  return new Promise((resolvePromise) => {
    const p = spawn("pulumi", [...args, "--non-interactive"], {
      cwd: opts.cwd ?? ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    opts.signal?.addEventListener("abort", () => p.kill("SIGINT"), { once: true });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => {
      stdout += d;
      if (opts.echo) process.stdout.write(d);
    });
    p.stderr.on("data", (d) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    p.on("close", (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
  });
}
