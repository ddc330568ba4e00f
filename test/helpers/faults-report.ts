// The fault-injection suite's table (issue 13): one row per fault, collected while the tests run and
// printed once at the end of the mocha run, then written to test/faults/results.md for the README to
// quote. A row is recorded even when its test fails: what was lost or duplicated is the finding.
import { existsSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";

export interface FaultRow {
  fault: string;
  /** What was injected and how often, e.g. `23 SIGKILLs`. */
  injected: string;
  podsLost: number;
  duplicates: number;
  replacedWhileStable: number;
  /** From the last injection until every RayCluster was Ready; undefined when it never was. */
  convergeMs?: number;
  /** `pass`, or the failed checks in a few words. */
  result: string;
}

export const RESULTS_FILE = join(__dirname, "..", "faults", "results.md");

const rows: FaultRow[] = [];

export function recordFault(row: FaultRow): void {
  rows.push(row);
  console.error(`      [faults] ${row.fault}: ${cells(row).slice(1).join(" | ")}`);
}

const seconds = (ms?: number) => (ms === undefined ? "did not converge" : `${(ms / 1000).toFixed(1)} s`);

function cells(row: FaultRow): string[] {
  return [
    row.fault,
    row.injected,
    String(row.podsLost),
    String(row.duplicates),
    String(row.replacedWhileStable),
    seconds(row.convergeMs),
    row.result,
  ];
}

const HEADER = ["fault", "injected", "pods lost", "duplicates", "replaced while stable", "time to converge", "result"];

const line = (values: string[]) => `| ${values.map((v) => v.replace(/\|/g, "\\|")).join(" | ")} |`;

/** The table as Markdown, rows in the order given. */
export function faultTable(table: FaultRow[]): string {
  return [line(HEADER), line(HEADER.map(() => "---")), ...table.map((r) => line(cells(r)))].join("\n");
}

/** Rows of an earlier results.md, by fault: a run of one file replaces only its own rows. */
function earlierRows(): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(RESULTS_FILE)) return out;
  for (const l of readFileSync(RESULTS_FILE, "utf8").split("\n")) {
    const m = /^\| (.+?) \| /.exec(l);
    if (m && m[1] !== "fault" && m[1] !== "---") out.set(m[1], l);
  }
  return out;
}

function writeResults(): void {
  const merged = earlierRows();
  for (const r of rows) merged.set(r.fault, line(cells(r)));
  const text = [
    "# Fault-injection suite: the latest results",
    "",
    "Written by `npm run test:faults` (test/faults/, issue 13): each row is the latest run of that fault",
    "on the local control plane (kwok nodes; the control store fault on the real node with real Ray).",
    "`pods lost`: pods deleted that nothing asked to remove; `duplicates`: pods created beyond what the",
    "specs asked for; `replaced while stable`: pods of a Ready cluster whose UID changed. Witnesses: etcd's",
    "history of every pod stored where kube-apiserver, etcd or the operator is killed (a create in flight",
    "can be stored without a 201 in the audit log), the audit log elsewhere, and the operator's metrics.",
    "",
    line(HEADER),
    line(HEADER.map(() => "---")),
    ...merged.values(),
    "",
  ].join("\n");
  writeFileSync(RESULTS_FILE, text);
}

let registered = false;

/**
 * Prints the table after the whole mocha run. Called at the top level of each fault test file, where
 * mocha's `after` is the root suite's: once, however many of the files are loaded.
 */
export function reportFaultsAfterAll(): void {
  if (registered) return;
  registered = true;
  after(function () {
    if (!rows.length) return;
    console.log(`\nFault injection (issue 13):\n${faultTable(rows)}\n`);
    writeResults();
    console.log(`(written to ${RESULTS_FILE})`);
  });
}
