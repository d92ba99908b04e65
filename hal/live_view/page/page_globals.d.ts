// What the page's script (view.mjs) finds in the browser besides the DOM: xterm.js, loaded
// by index.html as a plain script, and what the script leaves on window for the browser test.
// Only hal/live_view/page/tsconfig.json reads this (hal's own build excludes it).

declare const Terminal: typeof import('@xterm/xterm').Terminal;

interface Window {
  /** The terminal's text, line by line. */
  terminalText(): string;
}
