// The pod's own command (builders/launcher.ts rayLauncherScript), run by bash as a container runs
// it: in a PID namespace of its own (so /proc shows only its processes), with stand-ins for Ray's
// processes — copies of `sleep` named `raylet` and `gcs_server` — started by its start commands.
// The real thing, with Ray inside real containers, is tested on the real node
// (test/integration/real-node.test.ts); this checks the script's logic on every machine quickly.
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { rayLauncherScript } from "../../builders/launcher";

const canUnshare =
  process.getuid?.() === 0 && spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status === 0;

interface Launched {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

describe("the Ray launcher (the pod's command)", function () {
  let bin: string;
  before(function () {
    if (!canUnshare) this.skip(); // needs root for a PID namespace; the real-node tests cover it anyway
    bin = mkdtempSync(join(tmpdir(), "ray-launcher-"));
    const sleepPath = spawnSync("sh", ["-c", "command -v sleep"]).stdout.toString().trim();
    for (const name of ["raylet", "gcs_server"]) copyFileSync(sleepPath, join(bin, name));
    // `ray stop` on SIGTERM: a stand-in that records it was called.
    spawnSync("sh", [
      "-c",
      `printf '#!/bin/sh\\necho "ray $*" >> ${bin}/calls\\n' > ${bin}/ray && ` +
        `chmod +x ${bin}/ray ${bin}/raylet ${bin}/gcs_server`,
    ]);
  });
  after(() => bin && rmSync(bin, { recursive: true, force: true }));

  function launch(startCommands: string[], kind: "head" | "worker", env: Record<string, string> = {}): Launched {
    const script = rayLauncherScript([], startCommands, kind);
    const proc = spawn("unshare", ["--pid", "--fork", "--mount-proc", "bash", "-c", "--", script], {
      env: { PATH: `${bin}:${process.env.PATH}`, ...env },
    });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    return { proc, output: () => out, exited };
  }

  /** Runs `cmd` inside the launcher's PID namespace, by way of a file the launcher's start command polls. */
  const killer = (name: string, afterSeconds: number) =>
    `(sleep ${afterSeconds}; for p in /proc/[0-9]*; do ` +
    `[ "$(cat $p/comm 2>/dev/null)" = ${name} ] && kill -9 \${p#/proc/}; done) &`;

  it("keeps the container alive while Ray runs and exits 1 when the raylet stops by itself", async () => {
    const t0 = Date.now();
    const l = launch(["raylet 600 &", killer("raylet", 3)], "worker");
    const code = await l.exited;
    assert.equal(code, 1, l.output());
    assert.ok(Date.now() - t0 >= 3000, "it ran until the raylet was killed");
    assert.match(l.output(), /Ray stopped on this node \(raylet is not running\)/);
  });

  it("on the head, also exits when the control store (gcs_server) stops", async () => {
    const t0 = Date.now();
    const l = launch(["raylet 600 &", "gcs_server 600 &", killer("gcs_server", 3)], "head");
    assert.equal(await l.exited, 1, l.output());
    assert.ok(Date.now() - t0 >= 3000, "it ran until the control store was killed");
    assert.match(l.output(), /Ray stopped on this node \(gcs_server is not running\)/);
  });

  it("gives Ray's processes time to appear, and fails the container if they never do", async () => {
    // The raylet appears two seconds after the start commands returned: not a failure.
    const late = launch(["(sleep 2; exec raylet 600) &", killer("raylet", 5)], "worker");
    assert.equal(await late.exited, 1);
    assert.match(late.output(), /Ray stopped on this node/);
    const never = launch(["true"], "worker", { RAY_START_TIMEOUT_SECONDS: "3" });
    assert.equal(await never.exited, 1);
    assert.match(never.output(), /Ray did not start on this node \(raylet is not running\)/);
  });

  it("exits at once when a start command fails, naming it", async () => {
    const l = launch(["false"], "worker");
    assert.equal(await l.exited, 1);
    assert.match(l.output(), /ray-operator: command failed: false/);
  });

  it("stops Ray and exits 0 on SIGTERM", async () => {
    const l = launch(["raylet 600 &"], "worker");
    // unshare --fork forwards no signal: the launcher is its child (PID 1 of the namespace). Signal it
    // once its start commands ran (the raylet stand-in is its child), as the kubelet would.
    const children = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number);
      } catch {
        return [];
      }
    };
    const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    let launcher: number | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !launcher) {
      const bash = children(l.proc.pid!)[0];
      if (bash && children(bash).some((c) => comm(c) === "raylet")) launcher = bash;
      else await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(launcher, `the launcher never started its raylet: ${l.output()}`);
    process.kill(launcher, "SIGTERM");
    assert.equal(await l.exited, 0, l.output());
    assert.match(readFileSync(join(bin, "calls"), "utf8"), /ray stop/);
  });
});
