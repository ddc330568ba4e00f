// LeaderElector against a small in-process stand-in for the Lease API (get, create, update with
// resourceVersion conflicts), which can stall its answers the way a half-open connection does; and
// the write fence a KubeRest client checks before it sends anything. The real API server and two
// real operator processes (one frozen with SIGSTOP) are in test/integration/leader-election.test.ts.
import { strict as assert } from "assert";
import { createServer, IncomingMessage, Server, ServerResponse } from "http";
import { AddressInfo } from "net";
import { FencedError, KubeRest } from "../../operator/kube/rest";
import { LeaderElector } from "../../operator/leader/lease";
import { createLogger } from "../../operator/util/log";
import type { Lease } from "../../api/v1/kube-types";

const PATH = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lead";

/** The Lease API of one namespace, in memory; `stall` holds every answer until it is cleared. */
class FakeLeaseApi {
  lease?: Lease;
  version = 0;
  requests: string[] = [];
  stall = false;
  private held: Array<() => void> = [];
  private server!: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): void {
    this.stall = false;
    for (const release of this.held.splice(0)) release();
    this.server.closeAllConnections();
    this.server.close();
  }

  unstall(): void {
    this.stall = false;
    for (const release of this.held.splice(0)) release();
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    let text = "";
    for await (const chunk of req) text += chunk;
    this.requests.push(`${req.method} ${req.url}`);
    if (this.stall) await new Promise<void>((r) => this.held.push(r));
    const send = (code: number, body: unknown) => {
      if (res.destroyed) return;
      res.writeHead(code, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const conflict = () =>
      send(409, { kind: "Status", reason: "Conflict", message: "the object has been modified", code: 409 });
    if (req.method === "GET")
      return this.lease ? send(200, this.lease) : send(404, { kind: "Status", reason: "NotFound", code: 404 });
    const body = text ? (JSON.parse(text) as Lease) : undefined;
    if (req.method === "POST") {
      if (this.lease) return conflict();
      this.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++this.version) } };
      return send(201, this.lease);
    }
    if (req.method === "PUT") {
      if (!this.lease || body?.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion) return conflict();
      this.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++this.version) } };
      return send(200, this.lease);
    }
    send(405, {});
  }
}

async function client(url: string): Promise<KubeRest> {
  return KubeRest.create({ server: url });
}

const quiet = createLogger("error", () => {});
const electorOn = (rest: KubeRest, identity: string) =>
  new LeaderElector(rest, {
    namespace: "ns",
    name: "lead",
    identity,
    leaseDurationSeconds: 4,
    renewDeadlineSeconds: 1.5,
    retryPeriodSeconds: 0.3,
    log: quiet,
  });

describe("leader election (LeaderElector) and the write fence", function () {
  this.timeout(30_000);
  let api: FakeLeaseApi;
  const clients: KubeRest[] = [];
  const electors: LeaderElector[] = [];
  beforeEach(async () => (api = await new FakeLeaseApi().start()));
  afterEach(async () => {
    for (const e of electors.splice(0)) await e.release().catch(() => undefined);
    api.stop();
    for (const c of clients.splice(0)) c.close();
  });
  const candidate = async (identity: string) => {
    const rest = await client(api.url);
    clients.push(rest);
    const elector = electorOn(rest, identity);
    electors.push(elector);
    return elector;
  };

  it("one candidate leads; the other waits while the lease is renewed", async () => {
    const a = await candidate("a");
    const b = await candidate("b");
    const events: string[] = [];
    void a.run(
      () => events.push("a leads"),
      () => events.push("a lost"),
    );
    await waitFor(() => a.mayAct());
    void b.run(
      () => events.push("b leads"),
      () => events.push("b lost"),
    );
    // b has looked at a renewed lease several times over more than a lease duration.
    const renewals = () => api.requests.filter((r) => r.startsWith("PUT")).length;
    const seen = renewals();
    await waitFor(() => renewals() >= seen + 15);
    assert.deepEqual(events, ["a leads"]);
    assert.equal(api.lease?.spec?.holderIdentity, "a");
  });

  it("stops acting at the renew deadline when renewals stall, before another may take over", async () => {
    const a = await candidate("a");
    const b = await candidate("b");
    const events: Array<{ what: string; at: number }> = [];
    void a.run(
      () => events.push({ what: "a leads", at: Date.now() }),
      () => events.push({ what: "a lost", at: Date.now() }),
    );
    await waitFor(() => a.mayAct());
    // A half-open connection: a's next renewal never gets an answer.
    api.stall = true;
    const stalledAt = Date.now();
    await waitFor(() => events.some((e) => e.what === "a lost"));
    assert.equal(a.mayAct(), false);
    const lostAt = events.find((e) => e.what === "a lost")!.at;
    assert.ok(lostAt - stalledAt < 4000, "a stopped before the lease could expire for anyone else");
    api.unstall();
    void b.run(
      () => events.push({ what: "b leads", at: Date.now() }),
      () => events.push({ what: "b lost", at: Date.now() }),
    );
    await waitFor(() => b.mayAct());
    assert.ok(events.find((e) => e.what === "b leads")!.at > lostAt);
  });

  it("fences writes: nothing is sent once the fence is closed, reads still go", async () => {
    const rest = await client(api.url);
    clients.push(rest);
    let open = true;
    rest.fence = () => open;
    await rest.request("POST", "/apis/coordination.k8s.io/v1/namespaces/ns/leases", {
      body: { metadata: { name: "lead" }, spec: {} },
    });
    open = false;
    const before = api.requests.length;
    await assert.rejects(rest.request("PUT", PATH, { body: api.lease }), FencedError);
    await assert.rejects(rest.request("DELETE", PATH), FencedError);
    assert.equal(api.requests.length, before, "no write reached the server");
    await rest.request("GET", PATH);
    assert.equal(api.requests.length, before + 1);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
