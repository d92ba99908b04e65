// The thread `load`'s type checks run on (tools/driver_types.ts): checks each folder it is
// sent and posts the list of problems back, keeping what it parsed for the next check.

import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { driverTypeProblems, ParsedFiles, type CheckoutPaths } from './driver_types.js';

const typescript = createRequire(import.meta.url)('typescript') as typeof import('typescript');
const parsed = new ParsedFiles();
parentPort!.on('message', ({ id, folder, sources, paths }: { id: number; folder: string; sources: string[]; paths: CheckoutPaths }) => {
  let problems: string[];
  try {
    problems = driverTypeProblems(typescript, folder, sources, paths, parsed);
  } catch (error) {
    problems = [`error: the type check itself failed: ${(error as Error).message}`];
  }
  parentPort!.postMessage({ id, problems });
});
