// The shape of the code, checked: which directory may import which, no import cycle, and lines a
// reader can see. Data flows one way, api/ → builders/ → operator/ (and config/ → components/ for the
// Pulumi program); a file imports from its own layer or from the layers below it that its layer uses,
// never from above.
import { strict as assert } from "assert";
import { existsSync, readdirSync, readFileSync, statSync } from "fs";
import { dirname, join, relative, resolve } from "path";
import * as prettier from "prettier";
import * as ts from "typescript";
import { ROOT } from "../helpers/examples";

interface Layer {
  name: string;
  /** Files and directories (ending in /) of the layer; the longest match decides. */
  paths: string[];
  /** The layers below it that it may import from (and, through them, what those may). */
  uses: string[];
}

/**
 * The layers, lowest first. Two sides stand on api/ and builders/: the Pulumi program's (config/,
 * components/, index.ts) and the operator's. Neither uses the other: the operator's image ships
 * api/, builders/ and operator/ only (operator/Dockerfile), and the program never loads the operator.
 */
const LAYERS: Layer[] = [
  { name: "api", paths: ["api/"], uses: [] },
  { name: "builders", paths: ["builders/"], uses: ["api"] },
  { name: "config", paths: ["config/"], uses: ["builders"] },
  { name: "components", paths: ["components/"], uses: ["config"] },
  { name: "program", paths: ["index.ts"], uses: ["components"] },
  { name: "operator/util", paths: ["operator/util/"], uses: [] },
  { name: "operator/server", paths: ["operator/server/"], uses: [] },
  { name: "operator/kube", paths: ["operator/kube/"], uses: ["api", "operator/util"] },
  { name: "operator/leader", paths: ["operator/leader/"], uses: ["operator/kube"] },
  {
    name: "operator/controller",
    paths: ["operator/controller/"],
    uses: ["builders", "operator/kube", "operator/server"],
  },
  { name: "operator/autoscaler", paths: ["operator/autoscaler/"], uses: ["operator/controller"] },
  { name: "operator", paths: ["operator/"], uses: ["operator/leader", "operator/autoscaler"] },
];

/** Code written by a generator, held to its generator's layout. */
const GENERATED = ["operator/autoscaler/gen/", "api/v1/generated/"];
const MAX_LINE = 120;

/** The .ts files under the given roots, relative to the repository root, with / separators. */
function tsFiles(roots: string[]): string[] {
  const walk = (path: string): string[] =>
    path.endsWith("/node_modules")
      ? []
      : statSync(join(ROOT, path)).isDirectory()
        ? readdirSync(join(ROOT, path)).flatMap((f) => walk(`${path}/${f}`))
        : path.endsWith(".ts")
          ? [path]
          : [];
  return roots.flatMap(walk);
}

/** Every hand-written or generated .ts file of the layers. */
const layerFiles = () => tsFiles(["api", "builders", "config", "components", "operator", "index.ts"]);

/** Every hand-written .ts file of the project: the layers, and the tests, benchmarks and scripts. */
const handWritten = () =>
  tsFiles(["api", "builders", "config", "components", "operator", "index.ts", "test", "bench", "scripts"]).filter(
    (f) => !GENERATED.some((g) => f.startsWith(g)),
  );

function layerOf(file: string): Layer | undefined {
  let best: { layer: Layer; length: number } | undefined;
  for (const layer of LAYERS) {
    for (const p of layer.paths) {
      const match = p.endsWith("/") ? file.startsWith(p) : file === p;
      if (match && (!best || p.length > best.length)) best = { layer, length: p.length };
    }
  }
  return best?.layer;
}

/** The layers a layer may import from: its own, what it uses, and what those may. */
function allowed(name: string): Set<string> {
  const out = new Set([name]);
  for (const used of LAYERS.find((l) => l.name === name)!.uses) for (const n of allowed(used)) out.add(n);
  return out;
}

/** The project files a file imports (`import`, `import type`, `export ... from`, `require`). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out: string[] = [];
  for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
    if (!fileName.startsWith(".")) continue; // a package
    const base = resolve(ROOT, dirname(file), fileName);
    const found = [`${base}.ts`, join(base, "index.ts"), base].find((f) => existsSync(f) && statSync(f).isFile());
    assert.ok(found, `${file}: cannot resolve ${fileName}`);
    out.push(relative(ROOT, found).split("\\").join("/"));
  }
  return out;
}

describe("layout of the code", () => {
  const files = layerFiles();
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it("lists the layers lowest first, each using only layers below it", () => {
    LAYERS.forEach((layer, i) => {
      for (const used of layer.uses) {
        const j = LAYERS.findIndex((l) => l.name === used);
        assert.ok(j >= 0 && j < i, `${layer.name} uses ${used}, which is not a layer below it`);
      }
    });
    assert.ok(files.length > 50, `only ${files.length} files found under ${ROOT}`);
    for (const f of files) assert.ok(layerOf(f), `${f} is in no layer`);
  });

  it("has no import from a higher layer, nor from the other side", () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const from = layerOf(file)!;
      const may = allowed(from.name);
      for (const target of imports) {
        const to = layerOf(target);
        if (!to) wrong.push(`${file} imports ${target}, which is in no layer`);
        else if (!may.has(to.name)) wrong.push(`${file} (${from.name}) imports ${target} (${to.name})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("has no import cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, "visiting");
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === "visiting") cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
        else if (!state.has(next) && graph.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const f of files) if (!state.has(f)) visit(f);
    assert.deepEqual(cycles, []);
  });

  it(`has no hand-written line longer than ${MAX_LINE} columns, tests, benchmarks and scripts included`, () => {
    const long: string[] = [];
    for (const file of handWritten()) {
      readFileSync(join(ROOT, file), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (line.length > MAX_LINE) long.push(`${file}:${i + 1} (${line.length})`);
        });
    }
    assert.deepEqual(long, []);
  });

  // One layout for every file, the one `npm run format` writes (.prettierrc.json): a reviewer reads
  // the change, not a re-wrap. Prettier leaves long strings and comments alone; the test above
  // catches those.
  it("is formatted as `npm run format` formats it", async function () {
    this.timeout(60_000);
    const unformatted: string[] = [];
    for (const file of handWritten()) {
      const path = join(ROOT, file);
      const options = { ...(await prettier.resolveConfig(path)), filepath: path };
      if (!(await prettier.check(readFileSync(path, "utf8"), options))) unformatted.push(file);
    }
    assert.deepEqual(unformatted, [], "run `npm run format`");
  });
});
