// The artefacts a user consumes without Pulumi: the rendered manifests and the operator image.
// No Docker engine runs here, so the Dockerfile is checked by what it says and by building the same
// bundle it ships.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { builtinModules } from "module";
import { join } from "path";
import YAML from "yaml";
import { renderManifests } from "../../config/manifests";
import { readStackFile } from "../../config/read-stack-file";
import { seedStackConfig, ROOT, SEED_STACK_FILE } from "../helpers/examples";
import { runProgram } from "../helpers/pulumi-mocks";
import { buildOperator, dockerfileInstructions, imageNodeArgs } from "../../scripts/operator-process";

/** The non-root user the image runs as, and the Deployment's pod runs as: written out, not computed. */
const OPERATOR_USER = 65532;

/**
 * The operator Deployment of the seed stack (test/fixtures/Pulumi.seed.yaml), written out as a
 * reviewer would read it: a change to the builder changes this test, on purpose.
 */
const SEED_OPERATOR_DEPLOYMENT = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "ray-operator",
    namespace: "ray",
    labels: { "app.kubernetes.io/name": "ray-operator", "app.kubernetes.io/component": "operator" },
  },
  spec: {
    replicas: 1,
    selector: { matchLabels: { "app.kubernetes.io/name": "ray-operator", "app.kubernetes.io/component": "operator" } },
    // One surged pod, none taken away first: the new one waits as a standby for the Lease.
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    template: {
      metadata: {
        labels: { "app.kubernetes.io/name": "ray-operator", "app.kubernetes.io/component": "operator" },
        annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics" },
      },
      spec: {
        serviceAccountName: "ray-operator-serviceaccount",
        automountServiceAccountToken: true,
        terminationGracePeriodSeconds: 30,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: OPERATOR_USER,
          runAsGroup: OPERATOR_USER,
          fsGroup: OPERATOR_USER,
          seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [
          {
            name: "operator",
            image: "ray-operator:0.1.0",
            imagePullPolicy: "IfNotPresent",
            env: [
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "OPERATOR_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              { name: "LEADER_ELECT", value: "true" },
              { name: "LOG_LEVEL", value: "info" },
              { name: "RECONCILE_WORKERS", value: "4" },
              { name: "AUTOSCALER_INTERVAL_SECONDS", value: "5" },
              { name: "MAX_UNSCHEDULED_WORKERS", value: "16" },
              { name: "HEALTH_PORT", value: "8081" },
              { name: "METRICS_PORT", value: "8080" },
              // Namespaced (the seed's mode): it watches only its own namespace.
              { name: "RAY_OPERATOR_POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            ],
            ports: [
              { name: "metrics", containerPort: 8080, protocol: "TCP" },
              { name: "health", containerPort: 8081, protocol: "TCP" },
            ],
            livenessProbe: {
              httpGet: { path: "/healthz", port: "health" },
              initialDelaySeconds: 5,
              periodSeconds: 10,
              failureThreshold: 3,
            },
            readinessProbe: {
              httpGet: { path: "/readyz", port: "health" },
              initialDelaySeconds: 2,
              periodSeconds: 5,
              failureThreshold: 3,
            },
            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ["ALL"] },
              seccompProfile: { type: "RuntimeDefault" },
            },
          },
        ],
      },
    },
  },
};

describe("rendered manifests (npm run render)", () => {
  const files = renderManifests(seedStackConfig());

  it("writes the seed's four files", () => {
    assert.deepEqual(Object.keys(files).sort(), [
      "cluster_crd.yaml",
      "example_cluster.yaml",
      "example_cluster2.yaml",
      "operator.yaml",
    ]);
  });

  it("are committed up to date with the stack config (run `npm run render` after changing it)", () => {
    for (const [file, objects] of Object.entries(files)) {
      const onDisk = YAML.parseAllDocuments(readFileSync(join(ROOT, "manifests", file), "utf8")).map((d) => d.toJS());
      assert.deepEqual(onDisk, JSON.parse(JSON.stringify(objects)), `manifests/${file} is stale`);
    }
  });

  it("hold the operator Deployment written out here, the same one the Pulumi program installs", async function () {
    this.timeout(120_000); // the Pulumi program runs under mocks
    assert.deepEqual(
      files["operator.yaml"].map((o) => o.kind),
      [
        // Applied over the seed's `kubectl create namespace ray`: its Pod Security level and opt-in.
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
      ],
    );
    const rendered = files["operator.yaml"].find((o) => o.kind === "Deployment");
    assert.deepEqual(JSON.parse(JSON.stringify(rendered)), SEED_OPERATOR_DEPLOYMENT);
    const { resources } = await runProgram(join(ROOT, "index.ts"), readStackFile(SEED_STACK_FILE));
    const installed = resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
    assert.equal(installed.length, 1);
    assert.deepEqual(installed[0].inputs, SEED_OPERATOR_DEPLOYMENT);
  });
});

describe("the operator image (operator/Dockerfile)", () => {
  const lines = dockerfileInstructions();

  it("is multi-stage on one base, named by an exact version and open to a digest pin", () => {
    // The base is an ARG so that a build from a registry pins it by digest (--build-arg
    // NODE_IMAGE=node:<version>-<distro>-slim@sha256:...) and the local build by image ID; its
    // default names an exact Node version (the tested runtime), never a moving tag like node:24.
    const args = lines.filter((l) => l.startsWith("ARG NODE_IMAGE="));
    assert.equal(args.length, 1);
    assert.match(args[0], /^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    assert.ok(lines.indexOf(args[0]) < lines.findIndex((l) => l.startsWith("FROM ")), "ARG before the first FROM");
    const froms = lines.filter((l) => l.startsWith("FROM "));
    assert.deepEqual(froms, ["FROM ${NODE_IMAGE} AS build", "FROM ${NODE_IMAGE}"]);
  });

  /** The lines of the final stage: from its FROM to the end. */
  const finalStage = lines.slice(lines.map((l) => l.startsWith("FROM ")).lastIndexOf(true));

  it("ships the bundle alone and runs as a numeric non-root user matching the Deployment", () => {
    // The final stage copies the operator's bundle and its source map, and nothing else: no
    // node_modules, no package manifest, no sources.
    const copies = finalStage.filter((l) => l.startsWith("COPY "));
    assert.deepEqual(copies, ["COPY --from=build /src/dist/operator/main.js /src/dist/operator/main.js.map ./"]);
    assert.ok(!finalStage.some((l) => /node_modules|npm /.test(l)), "no package install in the final stage");
    const user = lines.filter((l) => l.startsWith("USER "));
    assert.equal(user.length, 1);
    assert.equal(user[0], `USER ${OPERATOR_USER}:${OPERATOR_USER}`);
    // The committed manifest (what kubectl users apply) runs the pod as that same user.
    const committed = YAML.parseAllDocuments(readFileSync(join(ROOT, "manifests", "operator.yaml"), "utf8"))
      .map((d) => d.toJS())
      .find((o) => o.kind === "Deployment");
    assert.equal(committed.spec.template.spec.securityContext.runAsUser, OPERATOR_USER);
  });

  it("runs the bundle with the node arguments the tests and `npm run operator` use", () => {
    const entry = lines.find((l) => l.startsWith("ENTRYPOINT "))!;
    assert.equal(
      entry,
      'ENTRYPOINT ["node", "--enable-source-maps", "--max-semi-space-size=1", "--max-opt=1", ' +
        '"--heap-growing-percent=20", "main.js"]',
    );
    assert.deepEqual(imageNodeArgs(), [
      "--enable-source-maps",
      "--max-semi-space-size=1",
      "--max-opt=1",
      "--heap-growing-percent=20",
    ]);
    const pkg: { scripts: Record<string, string> } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    assert.equal(
      pkg.scripts.operator,
      `npm run --silent build && node ${imageNodeArgs().join(" ")} dist/operator/main.js`,
    );
  });

  it("copies only what exists, and its build produces the bundle and its source map", function () {
    this.timeout(180_000); // it bundles the operator, as the image build does
    for (const l of lines.filter((x) => x.startsWith("COPY ") && !x.includes("--from="))) {
      const parts = l.split(/\s+/).slice(1, -1);
      for (const src of parts) assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} is missing`);
    }
    assert.ok(lines.includes("RUN npm run build"));
    const main = buildOperator();
    assert.ok(statSync(main).size > 0);
    assert.ok(statSync(`${main}.map`).size > 0);
  });

  it("loads nothing at run time but Node's own modules: every package is in the bundle", function () {
    this.timeout(60000);
    const main = buildOperator();
    const builtins = new Set(builtinModules);
    const required = [...readFileSync(main, "utf8").matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    assert.ok(required.length > 0, "the bundle requires Node's modules by name");
    assert.deepEqual(
      required.filter((name) => !builtins.has(name.replace(/^node:/, ""))),
      [],
    );
  });

  it("starts without perf_hooks (~3 MB of RSS) or gRPC and HTTP/2 (~11 MB) before a cluster needs them", function () {
    this.timeout(120_000);
    const main = buildOperator();
    const dir = mkdtempSync(join(tmpdir(), "operator-modules-"));
    try {
      // An API server that refuses connections: the operator starts, its informers retry, nothing more.
      const kubeconfig = join(dir, "kubeconfig");
      writeFileSync(
        kubeconfig,
        YAML.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1", "insecure-skip-tls-verify": true } }],
          users: [{ name: "u", user: { token: "t" } }],
          contexts: [{ name: "c", context: { cluster: "c", user: "u", namespace: "ray" } }],
          "current-context": "c",
        }),
      );
      // Prints the modules Node has loaded once start-up is over, then ends the process.
      const probe = join(dir, "probe.js");
      writeFileSync(
        probe,
        "setTimeout(() => { console.log('MODULES ' + JSON.stringify(process.moduleLoadList)); process.exit(0); }, " +
          "2000);",
      );
      const out = execFileSync(process.execPath, [...imageNodeArgs(), "--require", probe, main], {
        env: { PATH: process.env.PATH ?? "", KUBECONFIG: kubeconfig, HEALTH_PORT: "0", METRICS_PORT: "0" },
        encoding: "utf8",
        timeout: 60_000,
      });
      const line = out.split("\n").find((l) => l.startsWith("MODULES "));
      assert.ok(line, `the probe printed no module list:\n${out}`);
      const loaded = (JSON.parse(line.slice("MODULES ".length)) as string[]).filter((m) =>
        m.startsWith("NativeModule "),
      );
      assert.ok(loaded.includes("NativeModule https"), "the probe ran after the operator started");
      assert.deepEqual(
        loaded.filter((m) => /^NativeModule (perf_hooks|http2)$/.test(m)),
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does not bundle client-node: the operator reads its kubeconfig itself (operator/kube/kubeconfig.ts)", () => {
    const main = buildOperator();
    assert.doesNotMatch(readFileSync(main, "utf8"), /@kubernetes\/client-node|ObjectSerializer/);
  });
});
