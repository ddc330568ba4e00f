// The artefacts a user consumes without Pulumi: the rendered manifests and the operator image.
// No Docker engine runs here, so the Dockerfile is checked by what it says and by building the same
// compiled output it ships.
import { strict as assert } from "assert";
import { readFileSync, readdirSync, statSync, existsSync } from "fs";
import { builtinModules } from "module";
import { join } from "path";
import YAML from "yaml";
import { renderManifests } from "../../config/manifests";
import { readStackFile } from "../../config/read-stack-file";
import { seedStackConfig, ROOT, SEED_STACK_FILE } from "../helpers/examples";
import { runProgram } from "../helpers/pulumi-mocks";
import { buildOperator } from "../../scripts/operator-process";

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
    assert.deepEqual(files["operator.yaml"].map((o) => o.kind), [
      // Applied over the seed's `kubectl create namespace ray`: its Pod Security level and opt-in.
      "Namespace",
      "ServiceAccount",
      "Role",
      "RoleBinding",
      "Role",
      "RoleBinding",
      "Deployment",
    ]);
    const rendered = files["operator.yaml"].find((o) => o.kind === "Deployment");
    assert.deepEqual(JSON.parse(JSON.stringify(rendered)), SEED_OPERATOR_DEPLOYMENT);
    const { resources } = await runProgram(join(ROOT, "index.ts"), readStackFile(SEED_STACK_FILE));
    const installed = resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
    assert.equal(installed.length, 1);
    assert.deepEqual(installed[0].inputs, SEED_OPERATOR_DEPLOYMENT);
  });
});

describe("the operator image (operator/Dockerfile)", () => {
  const dockerfile = readFileSync(join(ROOT, "operator", "Dockerfile"), "utf8");
  const lines = dockerfile.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

  it("is multi-stage on a pinned base image", () => {
    const froms = lines.filter((l) => l.startsWith("FROM "));
    assert.ok(froms.length >= 2, "multi-stage");
    for (const f of froms) assert.match(f, /^FROM node:\d+\.\d+\.\d+-[a-z]+-slim( AS \w+)?$/, `unpinned base: ${f}`);
  });

  it("ships production dependencies only and runs as a numeric non-root user matching the Deployment", () => {
    assert.ok(lines.some((l) => /npm ci --omit=dev/.test(l)), "production install");
    const user = lines.filter((l) => l.startsWith("USER "));
    assert.equal(user.length, 1);
    assert.equal(user[0], `USER ${OPERATOR_USER}:${OPERATOR_USER}`);
    // The committed manifest (what kubectl users apply) runs the pod as that same user.
    const committed = YAML.parseAllDocuments(readFileSync(join(ROOT, "manifests", "operator.yaml"), "utf8"))
      .map((d) => d.toJS())
      .find((o) => o.kind === "Deployment");
    assert.equal(committed.spec.template.spec.securityContext.runAsUser, OPERATOR_USER);
  });

  it("copies only what exists, and runs the compiled operator that the build produces", function () {
    this.timeout(180_000); // it compiles the operator with tsc, as the image build does
    for (const l of lines.filter((x) => x.startsWith("COPY ") && !x.includes("--from="))) {
      const parts = l.split(/\s+/).slice(1, -1);
      for (const src of parts) assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} is missing`);
    }
    const entry = lines.find((l) => l.startsWith("ENTRYPOINT "))!;
    assert.match(entry, /dist\/operator\/main\.js/);
    const main = buildOperator();
    assert.ok(statSync(main).size > 0);
  });

  it("needs no package at run time that `npm ci --omit=dev` leaves out", function () {
    this.timeout(60000);
    buildOperator();
    const pkg: { dependencies: Record<string, string> } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const deps = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => {
        if (statSync(join(dir, f)).isDirectory()) return walk(join(dir, f));
        return f.endsWith(".js") ? [join(dir, f)] : [];
      });
    const missing = new Set<string>();
    for (const file of ["operator", "api", "builders"].flatMap((d) => walk(join(ROOT, "dist", d)))) {
      for (const m of readFileSync(file, "utf8").matchAll(/require\("([^".][^"]*)"\)/g)) {
        const name = m[1].startsWith("@") ? m[1].split("/").slice(0, 2).join("/") : m[1].split("/")[0];
        const builtin = builtins.has(name) || builtins.has(m[1].replace(/^node:/, ""));
        if (!builtin && !deps.has(name)) missing.add(`${name} (in ${file.slice(ROOT.length + 1)})`);
      }
    }
    assert.deepEqual([...missing], []);
  });
});
