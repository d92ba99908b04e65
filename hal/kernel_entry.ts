// What the board hands a kernel when it enters it: the machine, and the device tree's
// physical address. Everything else the kernel learns from the device tree.

import type { RamDescriptor } from './ram.js';
import type { RegisterBlockDescriptor } from './mmio.js';
import type { TimerDescriptor } from './timer.js';

export interface KernelEntry {
  readonly ram: RamDescriptor;
  readonly doorbells: SharedArrayBuffer;
  readonly interrupts: SharedArrayBuffer;
  readonly clock: SharedArrayBuffer;
  /** The CLINT's state (hal/timer.ts: MachineTimer.attach), one mtimecmp and msip per hart. */
  readonly timer?: TimerDescriptor;
  /** Every register block on the bus; the kernel finds each by the base its tree node names. */
  readonly bus: readonly RegisterBlockDescriptor[];
  /** Physical address of the flattened device tree blob. */
  readonly deviceTree: number;
  /** Host path of the image being entered (kexec defaults to entering it again). */
  readonly image: string;
}

/** The kernel image occupies the first 2 MiB of RAM, as a RISC-V kernel loaded at the RAM base would. */
export const KERNEL_IMAGE_SIZE = 2 * 1024 * 1024;
