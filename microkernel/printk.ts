// The kernel's early console: boot messages written through the firmware's debug
// console (as a RISC-V kernel uses SBI before its console driver is up).

import type { FirmwareCalls } from '../hal/firmware.js';
import type { Clock } from '../hal/clock.js';

export class EarlyConsole {
  private readonly firmware: FirmwareCalls;
  private readonly clock: Clock;
  private readonly buffer: number;
  private readonly bufferSize: number;
  private readonly encoder = new TextEncoder();
  readonly lines: string[] = [];

  /** `buffer` is a RAM range the kernel owns, used to pass text to the firmware. */
  private readonly record: ((line: string) => void) | undefined;

  constructor(firmware: FirmwareCalls, clock: Clock, buffer: number, bufferSize: number, record?: (line: string) => void) {
    this.record = record;
    this.firmware = firmware;
    this.clock = clock;
    this.buffer = buffer;
    this.bufferSize = bufferSize;
  }

  /** Prints one line prefixed with the time since power-on, as Linux's printk does. */
  print(text: string): void {
    const seconds = (this.clock.nowMs() / 1000).toFixed(6).padStart(12, ' ');
    const line = `[${seconds}] ${text}`;
    this.lines.push(line);
    this.record?.(text);
    const bytes = this.encoder.encode(line + '\n');
    for (let offset = 0; offset < bytes.length; offset += this.bufferSize) {
      this.firmware.consoleWrite(this.buffer, bytes.subarray(offset, offset + this.bufferSize));
    }
  }
}
