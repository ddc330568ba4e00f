// The scheduler's scale-up against Ray's own: the same random clusters and demand (tasks, placement
// groups of every strategy, request_resources, minWorkers, pending launches, throttle) given to our
// `decide` and to Ray's ResourceDemandScheduler.get_nodes_to_launch (the pinned Ray's Python, through
// bench/autoscaler/ray_scheduler.py). The node types and counts must be identical.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { randomParityCase } from "../../bench/autoscaler/cases";
import { decide } from "../../operator/autoscaler/scheduler";
import { rayPython, rayVenv } from "../support/ray";

const CASES = 600;

describe("scheduler parity with Ray's autoscaler (real Ray Python)", function () {
  this.timeout(15 * 60_000); // the first run creates the Ray venv

  before(() => rayVenv());

  it(`chooses the same node types and counts as Ray on ${CASES} random inputs`, () => {
    const cases = Array.from({ length: CASES }, (_, i) => ({
      name: `case-${i}`,
      input: randomParityCase(7000 + i),
      runs: 1,
    }));
    const dir = mkdtempSync(join(tmpdir(), "scheduler-parity-"));
    let ray: Record<string, { launch: Record<string, number> }>;
    try {
      const file = join(dir, "cases.json");
      writeFileSync(file, JSON.stringify(cases));
      ray = JSON.parse(
        execFileSync(rayPython(), [resolve(__dirname, "../../bench/autoscaler/ray_scheduler.py"), file], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
          maxBuffer: 64 * 1024 * 1024,
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const sorted = (m: Record<string, number>) => Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1));
    const differ: string[] = [];
    let launching = 0;
    let severalTypes = 0;
    for (const c of cases) {
      const ours = sorted(decide(c.input).launch);
      const theirs = sorted(ray[c.name].launch);
      if (theirs.length > 0) launching++;
      if (theirs.length > 1) severalTypes++;
      if (JSON.stringify(ours) !== JSON.stringify(theirs))
        differ.push(`${c.name}: ours ${JSON.stringify(ours)}, Ray ${JSON.stringify(theirs)}`);
    }
    assert.deepEqual(differ, []);
    // The inputs exercise real choices, not only "nothing to do".
    assert.ok(launching > CASES / 2, `Ray launched nodes in only ${launching} cases`);
    assert.ok(severalTypes > CASES / 10, `several types in only ${severalTypes} cases`);
  });
});
