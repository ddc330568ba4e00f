import { strict as assert } from "assert";
import { splitLines } from "../../operator/util/split-lines";

function collect(chunks: string[]): string[] {
  const out: string[] = [];
  const push = splitLines((l) => out.push(l));
  for (const c of chunks) push(c);
  return out;
}

describe("splitting a watch stream into lines", () => {
  const events = Array.from({ length: 50 }, (_, i) =>
    JSON.stringify({ type: "MODIFIED", object: { metadata: { name: `pod-${i}` }, data: "é✓".repeat(i * 37) } }),
  );
  const text = events.join("\n") + "\n";

  it("gives every line once, whatever the chunk boundaries", () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 200; round++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length;) {
        const n = 1 + rand(round % 2 ? 9 : 4000);
        chunks.push(text.slice(i, i + n));
        i += n;
      }
      assert.deepEqual(collect(chunks), events, `round ${round}`);
    }
  });

  it("skips blank lines, trims, and holds a line back until its newline arrives", () => {
    assert.deepEqual(collect(["\n  a \r\n\n", "b", "c", "\n", "d"]), ["a", "bc"]);
  });

  it("lets the consumer's error through", () => {
    const push = splitLines((l) => JSON.parse(l));
    assert.throws(() => push("{not json}\n"), SyntaxError);
  });
});
