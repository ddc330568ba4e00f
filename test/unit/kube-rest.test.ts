// KubeRest against a small in-process HTTP server: a watch that goes silent (a half-open connection
// sends nothing and never ends) fails after its idle timeout instead of hanging forever, while one
// that keeps sending (events, bookmarks) lives on; and what liveness and readiness make of a
// watch that keeps failing (an API-server outage): not ready, but alive.
import { strict as assert } from "assert";
import { createServer, Server, ServerResponse } from "http";
import { AddressInfo } from "net";
import { KubeRest } from "../../operator/kube/rest";
import { Informer } from "../../operator/kube/informer";
import { createLogger } from "../../operator/util/log";

async function serve(handler: (res: ServerResponse, url: string) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => handler(res, req.url ?? ""));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function client(url: string): Promise<KubeRest> {
  return KubeRest.create({ server: url });
}

describe("KubeRest watches and what the probes make of them", function () {
  this.timeout(20_000);
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  it("fails a watch that receives nothing for its idle timeout, and keeps one that hears bookmarks", async () => {
    const timers: NodeJS.Timeout[] = [];
    const { server, url } = await serve((res, path) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.flushHeaders();
      // /silent: headers, then nothing, ever. /chatty: a bookmark every 100 ms, then the end.
      if (path.startsWith("/silent")) return;
      let sent = 0;
      const timer = setInterval(() => {
        res.write(
          JSON.stringify({ type: "BOOKMARK", object: { metadata: { resourceVersion: String(++sent) } } }) + "\n",
        );
        if (sent === 8) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
      timers.push(timer);
    });
    const rest = await client(url);
    cleanup.push(() => {
      timers.forEach(clearInterval);
      rest.close();
      server.closeAllConnections();
      server.close();
    });
    const started = Date.now();
    await assert.rejects(
      rest.watch("/silent", {}, () => {}, new AbortController().signal, 300),
      /nothing received for 0.3s/,
    );
    assert.ok(Date.now() - started < 5000);
    const bookmarks: unknown[] = [];
    await rest.watch("/chatty", {}, (e) => bookmarks.push(e), new AbortController().signal, 300);
    assert.equal(bookmarks.length, 8, "eight bookmarks over 800 ms, none 300 ms apart: the watch lived to its end");
  });

  it("an informer whose watches keep failing is not watching (readiness) but alive (liveness)", async () => {
    const failing = {
      get: async () => ({ items: [], metadata: { resourceVersion: "1" } }),
      watch: async () => {
        throw new Error("connect ECONNREFUSED");
      },
    };
    const informer = new Informer(failing as unknown as KubeRest, {
      name: "pods",
      path: "/api/v1/pods",
      log: createLogger("error", () => {}),
    });
    cleanup.push(() => informer.stop());
    informer.start();
    await informer.waitForSync();
    const deadline = Date.now() + 10_000;
    while (informer.restarts < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(informer.restarts >= 2, "the watch failed and was restarted");
    assert.equal(informer.healthy(), false, "not watching");
    assert.equal(informer.alive(), true, "its loop goes on");
    informer.stop();
    assert.equal(informer.alive(), true, "stopped on purpose is not dead");
  });
});
