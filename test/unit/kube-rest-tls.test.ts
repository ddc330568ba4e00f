// KubeRest over TLS against a real HTTPS server, with certificates made by openssl as for the local
// control plane: the client certificate is presented and connections are reused (at most 64);
// the server's certificate is verified against the kubeconfig's CA, `insecure-skip-tls-verify`
// and `tls-server-name` do what kubectl does with them; and the write fence is looked at once more
// when the connection is up, right before the write is sent.
import { strict as assert } from "assert";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { createServer, Server } from "https";
import type { IncomingMessage, ServerResponse } from "http";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import { join } from "path";
import type { TLSSocket } from "tls";
import type { Connection } from "../../operator/kube/kubeconfig";
import { FencedError, KubeRest } from "../../operator/kube/rest";
import { makePki, Pki, servingCert } from "../../scripts/cluster/pki";

/** What the server saw of each request. */
interface Seen {
  method: string;
  clientCn?: string;
}

describe("KubeRest over TLS: client certificate, connection reuse, server verification, the fence", function () {
  this.timeout(30_000);
  let dir: string;
  let pki: Pki;
  /** A second CA, which signed nothing the server presents. */
  let otherPki: Pki;
  const cleanup: Array<() => void> = [];
  before(function () {
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), "ray-operator-tls-"));
    pki = makePki(mkdtempSync(join(dir, "pki-")));
    otherPki = makePki(mkdtempSync(join(dir, "other-")));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() =>
    cleanup
      .splice(0)
      .reverse()
      .forEach((f) => f()),
  );

  /** Answers every request with a pod named after the path's last part, 20 ms later. */
  async function serve(cert = { cert: pki.serverCert, key: pki.serverKey }) {
    const seen: Seen[] = [];
    let connections = 0;
    const server: Server = createServer(
      {
        cert: readFileSync(cert.cert),
        key: readFileSync(cert.key),
        ca: readFileSync(pki.caCert),
        requestCert: true,
        rejectUnauthorized: false, // a client without a certificate is let in (and seen without one)
      },
      (req: IncomingMessage, res: ServerResponse) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({ method: req.method ?? "", clientCn: String(peer?.subject?.CN ?? "") });
        req.resume();
        setTimeout(() => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ metadata: { name: req.url?.split("/").pop() } }));
        }, 20);
      },
    );
    server.on("secureConnection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanup.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const port = (server.address() as AddressInfo).port;
    return { seen, port, connections: () => connections };
  }

  async function client(conn: Connection) {
    const rest = await KubeRest.create(conn, { qps: 1000, burst: 1000 });
    cleanup.push(() => rest.close());
    return rest;
  }

  const admin = (port: number): Connection => ({
    server: `https://127.0.0.1:${port}`,
    ca: readFileSync(pki.caCert),
    cert: readFileSync(pki.adminCert),
    key: readFileSync(pki.adminKey),
  });

  const getPods = (rest: KubeRest, from: number, count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, i) =>
        rest.get<{ metadata: { name: string } }>(`/api/v1/namespaces/ns/pods/p${from + i}`),
      ),
    );

  it("presents the client certificate and reuses its connections, at most 64 of them", async () => {
    const { seen, port, connections } = await serve();
    const rest = await client(admin(port));
    const first = await getPods(rest, 0, 100);
    assert.deepEqual(
      first.map((p) => p.metadata.name),
      Array.from({ length: 100 }, (_, i) => `p${i}`),
    );
    const opened = connections();
    assert.ok(opened > 1 && opened <= 64, `${opened} connections for 100 requests at once`);
    await getPods(rest, 100, Math.min(opened, 50));
    assert.equal(connections(), opened, "kept-alive connections served the second batch");
    assert.ok(seen.every((s) => s.clientCn === "kubernetes-admin"));
  });

  it("verifies the server against the kubeconfig CA; insecure-skip-tls-verify and tls-server-name", async () => {
    const { port } = await serve();
    const strangers = await client({ ...admin(port), ca: readFileSync(otherPki.caCert) });
    await assert.rejects(strangers.get("/api/v1/namespaces/ns/pods/p1"), /self[- ]signed|unable to (get|verify)/i);
    const trusting = await client({ ...admin(port), ca: undefined, insecureSkipTLSVerify: true });
    assert.equal(
      (await trusting.get<{ metadata: { name: string } }>("/api/v1/namespaces/ns/pods/p1")).metadata.name,
      "p1",
    );

    // A certificate for a name only: reached by address, it is checked against that name.
    const named = servingCert(pki, "named", "api", ["DNS:api.example"]);
    const { port: namedPort } = await serve(named);
    const byAddress = await client(admin(namedPort));
    await assert.rejects(byAddress.get("/api/v1/namespaces/ns/pods/p1"), /127\.0\.0\.1.*(not in|altnames)/i);
    const byName = await client({ ...admin(namedPort), tlsServerName: "api.example" });
    assert.equal(
      (await byName.get<{ metadata: { name: string } }>("/api/v1/namespaces/ns/pods/p2")).metadata.name,
      "p2",
    );
  });

  it("looks at the write fence again once the connection is up, and sends nothing if it closed", async () => {
    const { seen, port } = await serve();
    const rest = await client(admin(port));
    // Open at the first look (before the rate limit's wait), closed at the last (connection up).
    let looks = 0;
    rest.fence = () => ++looks < 2;
    await assert.rejects(rest.create("/api/v1/namespaces/ns/pods", { metadata: { name: "x" } }), FencedError);
    assert.equal(looks, 2);
    await rest.get("/api/v1/namespaces/ns/pods/p1");
    assert.deepEqual(
      seen.map((s) => s.method),
      ["GET"],
      "only the read reached the server",
    );
  });
});
