// The kernel image's entry point: the board starts this module on a thread of its own
// with a KernelEntry, as firmware jumps to a kernel with the device tree's address.
//
// A kernel that cannot boot reports why on the firmware console and powers off with
// status 1; it never leaves the board hanging.

import { currentThread } from '../hal/cpu.js';
import type { KernelEntry } from '../hal/kernel_entry.js';
import { Kernel } from './kernel.js';

const entry = currentThread().data as KernelEntry;
let kernel: Kernel | undefined;
try {
  kernel = new Kernel(entry);
  await kernel.boot();
} catch (error) {
  const message = error instanceof Error ? error.stack ?? error.message : String(error);
  if (kernel) {
    kernel.console.print(`kernel panic: ${message}`);
    kernel.firmware.powerOff(1);
  } else {
    currentThread().post({ type: 'panic', message });
  }
}
