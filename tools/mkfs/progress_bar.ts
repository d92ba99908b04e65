// A one-line progress bar for mkfs on a terminal: "mkfs: formatting [#####     ] 50%",
// redrawn in place with "\r" when the percentage changes and ended with a newline. On
// anything that is not a terminal (a pipe, a file) it draws nothing, so piped output stays
// plain lines.

/** Where the bar is drawn: process.stderr, or a stand-in in tests. */
export interface BarStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const WIDTH = 30;

/**
 * A bar for `what` ("formatting", "copying") up to `total` units; returns the function to
 * call with the units done so far (`done` true the last time). Draws nothing unless
 * `stream` is a terminal and `total` reaches `threshold` (small jobs finish before a bar helps).
 */
export function progressBar(stream: BarStream, what: string, total: number, threshold = 0): (current: number, done?: boolean) => void {
  if (stream.isTTY !== true || total < threshold) return () => undefined;
  let last = -1;
  let finished = false;
  return (current, done = false) => {
    if (finished) return;
    const percent = total === 0 ? 100 : Math.min(100, Math.floor(current * 100 / total));
    if (percent === last && !done) return;
    last = percent;
    finished = done;
    const filled = Math.round(WIDTH * percent / 100);
    stream.write(`\rmkfs: ${what} [${'#'.repeat(filled)}${' '.repeat(WIDTH - filled)}] ${percent}%${done ? '\n' : ''}`);
  };
}
