// Where in a program's own code an error was thrown: the first stack frame outside
// baton's runtime (the kernel's userlib, ipc, hal, the driver library) and outside
// Node and its packages — the line a driver author wants to see when `init` throws.

/** Folders of baton's own runtime, as URLs ending in "/" (compiled and source trees). */
const RUNTIME_FOLDERS = ['microkernel/', 'ipc/', 'hal/', 'drivers/lib/', 'node_modules/'];

/**
 * The first frame of `stack` that is the program's own, as "path:line:column" (a file
 * path, source-mapped where the program has source maps); undefined when there is none.
 * `projectRoot` is the baton checkout's folder URL (its build/ is inside it).
 */
export function programFrame(stack: string | undefined, projectRoot: URL): string | undefined {
  if (!stack) return undefined;
  const root = decodeURI(projectRoot.pathname);
  const runtime = RUNTIME_FOLDERS.flatMap((folder) => [`${root}${folder}`, `${root}build/${folder}`]);
  for (const line of stack.split('\n')) {
    const match = /^\s+at (?:.*\()?((?:file:\/\/)?\/[^()]*?:\d+:\d+)\)?$/.exec(line);
    if (!match) continue;
    const location = match[1]!.startsWith('file://') ? decodeURI(match[1]!.slice('file://'.length)) : match[1]!;
    if (runtime.some((folder) => location.startsWith(folder)) || location.includes('/node_modules/')) continue;
    return location;
  }
  return undefined;
}
