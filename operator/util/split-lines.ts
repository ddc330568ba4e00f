// Newline-delimited text arriving in chunks (a watch stream: one JSON event per line) to whole lines.

/**
 * Returns a function to feed chunks to; `onLine` gets each complete, non-blank line, trimmed.
 * Each chunk is scanned once: a pod event is several kilobytes and often spans chunks, and searching
 * an ever-growing buffer from its start again (and flattening it to do so) costs in proportion to
 * the square of the line. An exception from `onLine` propagates; the rest of that chunk is dropped.
 */
export function splitLines(onLine: (line: string) => void): (chunk: string) => void {
  let partial = "";
  return (chunk: string) => {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf("\n", start)) >= 0) {
      const line = (partial + chunk.slice(start, nl)).trim();
      partial = "";
      start = nl + 1;
      if (line) onLine(line);
    }
    partial += chunk.slice(start);
  };
}
