// The artefacts a user consumes without Pulumi: the rendered manifests and the operator image.
// No Docker engine runs here, so the Dockerfile is checked by what it says and by building the same
// compiled output it ships.
import { strict as assert } from "assert";
import { readFileSync, readdirSync, statSync, existsSync } from "fs";
import { join } from "path";
import YAML from "yaml";
import { renderManifests } from "../../config/manifests";
import { operatorDeployment, OPERATOR_UID } from "../../builders/operator-workload";
import { seedStackConfig, ROOT } from "../helpers/examples";
import { buildOperator } from "../../scripts/operator-process";

describe("rendered manifests (npm run render)", () => {
  const files = renderManifests(seedStackConfig());

  it("writes the seed's four files", () => {
    assert.deepEqual(Object.keys(files).sort(), ["cluster_crd.yaml", "example_cluster.yaml", "example_cluster2.yaml", "operator.yaml"]);
  });

  it("are committed up to date with the stack config (run `npm run render` after changing it)", () => {
    for (const [file, objects] of Object.entries(files)) {
      const onDisk = YAML.parseAllDocuments(readFileSync(join(ROOT, "manifests", file), "utf8")).map((d) => d.toJS());
      assert.deepEqual(onDisk, JSON.parse(JSON.stringify(objects)), `manifests/${file} is stale`);
    }
  });

  it("hold the same operator Deployment the Pulumi program installs", () => {
    const c = seedStackConfig();
    const dep = files["operator.yaml"].find((o) => o.kind === "Deployment");
    assert.deepEqual(dep, operatorDeployment({ ...c.operator, namespace: c.namespace.name }));
    assert.deepEqual(files["operator.yaml"].map((o) => o.kind), ["ServiceAccount", "Role", "RoleBinding", "Role", "RoleBinding", "Deployment"]);
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
    assert.equal(user[0], `USER ${OPERATOR_UID}:${OPERATOR_UID}`);
    const sc = operatorDeployment({ ...seedStackConfig().operator, namespace: "ray" }).spec.template.spec.securityContext;
    assert.equal(sc.runAsUser, OPERATOR_UID);
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
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const deps = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(require("module").builtinModules);
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : f.endsWith(".js") ? [join(dir, f)] : []));
    const missing = new Set<string>();
    for (const file of ["operator", "api", "builders"].flatMap((d) => walk(join(ROOT, "dist", d)))) {
      for (const m of readFileSync(file, "utf8").matchAll(/require\("([^".][^"]*)"\)/g)) {
        const name = m[1].startsWith("@") ? m[1].split("/").slice(0, 2).join("/") : m[1].split("/")[0];
        if (!builtins.has(name) && !builtins.has(m[1].replace(/^node:/, "")) && !deps.has(name)) missing.add(`${name} (in ${file.slice(ROOT.length + 1)})`);
      }
    }
    assert.deepEqual([...missing], []);
  });
});
