// Ray's job submission, over the REST API the head's dashboard serves on port 8265 (what
// `ray job submit --address http://<head>:8265` speaks): submit an entrypoint, wait for it to end,
// read its logs. Used by `npm start` to run a program on a cluster it just made, and by the tests.
// The entrypoint runs on the head as a Ray driver, so it reaches the whole cluster; `ray status`
// run this way prints what the head's control store knows, without exec into any pod.

import * as http from "http";

export type JobStatus = "PENDING" | "RUNNING" | "STOPPED" | "SUCCEEDED" | "FAILED";

export interface JobResult {
  submissionId: string;
  status: JobStatus;
  message?: string;
  logs: string;
}

interface JobInfo {
  status: JobStatus;
  message?: string;
}

const TERMINAL: JobStatus[] = ["STOPPED", "SUCCEEDED", "FAILED"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RayJobClient {
  /** `dashboard`: `http://<head Service IP or pod IP>:8265`. */
  constructor(readonly dashboard: string) {}

  // Plain http rather than fetch: the dashboard refuses POSTs that carry fetch's Sec-Fetch-* headers
  // ("method not allowed for browser traffic").
  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        `${this.dashboard}${path}`,
        {
          method,
          timeout: 30_000,
          headers:
            data === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => {
            const code = res.statusCode ?? 0;
            if (code < 200 || code >= 300)
              reject(new Error(`${method} ${this.dashboard}${path}: HTTP ${code} ${text.slice(0, 500)}`));
            else {
              try {
                resolve(JSON.parse(text) as T);
              } catch (e) {
                reject(new Error(`${method} ${this.dashboard}${path}: not JSON: ${text.slice(0, 200)}`));
              }
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${this.dashboard}${path}: timed out`)));
      req.on("error", reject);
      req.end(data);
    });
  }

  /** Resolves once the dashboard's job API answers (the head can be Ready before its dashboard is). */
  async waitUntilServing(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        await this.call("GET", "/api/jobs/");
        return;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(1000);
    }
    throw new Error(`Ray's job API at ${this.dashboard} did not answer within ${timeoutMs / 1000}s: ${last}`);
  }

  async submit(
    entrypoint: string,
    opts: { entrypointResources?: Record<string, number>; entrypointNumCpus?: number } = {},
  ): Promise<string> {
    const reply = await this.call<{ submission_id: string }>("POST", "/api/jobs/", {
      entrypoint,
      ...(opts.entrypointNumCpus !== undefined ? { entrypoint_num_cpus: opts.entrypointNumCpus } : {}),
      ...(opts.entrypointResources ? { entrypoint_resources: opts.entrypointResources } : {}),
    });
    return reply.submission_id;
  }

  info(submissionId: string): Promise<JobInfo> {
    return this.call<JobInfo>("GET", `/api/jobs/${submissionId}`);
  }

  async logs(submissionId: string): Promise<string> {
    return (await this.call<{ logs: string }>("GET", `/api/jobs/${submissionId}/logs`)).logs;
  }

  async stop(submissionId: string): Promise<void> {
    await this.call("POST", `/api/jobs/${submissionId}/stop`);
  }

  /** Submits `entrypoint` and waits for it to end; the result carries its status and whole output. */
  async run(
    entrypoint: string,
    timeoutMs = 300_000,
    opts: Parameters<RayJobClient["submit"]>[1] = {},
  ): Promise<JobResult> {
    const submissionId = await this.submit(entrypoint, opts);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.info(submissionId);
      if (TERMINAL.includes(info.status))
        return { submissionId, status: info.status, message: info.message, logs: await this.logs(submissionId) };
      if (Date.now() > deadline) {
        await this.stop(submissionId).catch(() => undefined);
        throw new Error(
          `job ${submissionId} (${entrypoint.split("\n")[0]}) still ${info.status} after ${timeoutMs / 1000}s; ` +
            `logs so far:\n${await this.logs(submissionId)}`,
        );
      }
      await sleep(1000);
    }
  }
}

/** A Python one-liner for `python -c`, quoted for the shell the job API runs the entrypoint with. */
export function pythonEntrypoint(program: string): string {
  return `python -c '${program.replace(/'/g, `'"'"'`)}'`;
}
