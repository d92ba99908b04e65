// What the kernel watches in RAM while the system runs: the header of the memory server's
// state region (ipc/interfaces/memory_state.ts). Every thread maps all of RAM, so a
// program can write over it; the region's per-page records are the only record of who owns
// which page, and once its header is gone the rest of it cannot be trusted either. Then no
// program can be given memory safely — a restarted driver would get pages in use, or none —
// so the kernel resets the board, as a watchdog would, and says why in the next boot's log.

import { hex } from '../hal/address.js';
import type { Ram } from '../hal/ram.js';
import { MEMORY_STATE_MAGIC, MEMORY_STATE_READY, MEMORY_STATE_VERSION } from '../ipc/interfaces/memory_state.js';

export class RamWatch {
  private readonly ram: Ram;
  private readonly state: { readonly base: number } | undefined;
  /** The header was seen complete (the memory server marked it ready): from now on it must stay so. */
  private armed = false;

  constructor(ram: Ram, state: { readonly base: number } | undefined) {
    this.ram = ram;
    this.state = state;
  }

  /** The check that failed, as a sentence, or undefined while RAM the kernel watches holds. */
  check(): string | undefined {
    if (!this.state) return undefined;
    const base = this.state.base;
    const [magic, version, status] = [0, 4, 8].map((offset) => this.ram.readU32(base + offset)) as [number, number, number];
    const whole = magic === MEMORY_STATE_MAGIC && version === MEMORY_STATE_VERSION && status === MEMORY_STATE_READY;
    if (!this.armed) {
      this.armed = whole;
      return undefined;
    }
    if (whole) return undefined;
    const word = (value: number) => `0x${value.toString(16).padStart(8, '0')}`;
    if (magic !== MEMORY_STATE_MAGIC) return `the memory server's state at ${hex(base)} lost its header (magic ${word(magic)}, expected ${word(MEMORY_STATE_MAGIC)} "BMEM")`;
    if (version !== MEMORY_STATE_VERSION) return `the memory server's state at ${hex(base)} has version ${version}, not ${MEMORY_STATE_VERSION}`;
    return `the memory server's state at ${hex(base)} has status ${status}, not ready (${MEMORY_STATE_READY})`;
  }
}
