// The operator's HTTP endpoints: /healthz (the process and its watches are alive), /readyz (caches
// synced, or standing by as a non-leader), and Prometheus /metrics.
import { createServer, Server } from "http";
import type { Registry } from "prom-client";

export interface Probes {
  healthy(): { ok: boolean; detail: string };
  ready(): { ok: boolean; detail: string };
}

export function startHttp(
  port: number,
  probes: Probes,
  registry: Registry | undefined,
  host = "0.0.0.0",
): Promise<Server> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const answer = (r: { ok: boolean; detail: string }) => {
      res.writeHead(r.ok ? 200 : 503, { "Content-Type": "text/plain" });
      res.end(`${r.ok ? "ok" : "not ok"}: ${r.detail}\n`);
    };
    if (path === "/healthz" || path === "/livez") return answer(probes.healthy());
    if (path === "/readyz") return answer(probes.ready());
    if (path === "/metrics" && registry) {
      res.writeHead(200, { "Content-Type": registry.contentType });
      return res.end(await registry.metrics());
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
