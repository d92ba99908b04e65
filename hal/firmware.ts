// Board firmware: power control, an early debug console and kexec, in one register block.
//
// Offset 0 behaves as QEMU's "sifive,test" finisher device (0x5555 power off with status
// 0, 0x3333 | status << 16 power off with a failure status, 0x7777 reset), so the device
// tree's syscon-poweroff / syscon-reboot nodes describe it truthfully. The rest are baton
// extensions modelled on RISC-V SBI calls:
//   0x10/0x14 DBCN address (low/high), 0x18 DBCN write: writes `value` bytes of RAM at the
//       address to the board's early console (SBI debug console "write").
//   0x20/0x24 kexec image address, 0x28 image length (a UTF-8 path to a kernel image in RAM),
//   0x2c/0x30 kexec device tree address, 0x34 kexec go (0x4b455845, "KEXE").
//   0x40 version (read).
//   0x50/0x54 request address, 0x58 request length, 0x5c request go (a host request: a
//       UTF-8 JSON object in RAM, as kexec_file_load and a 9p share would carry them);
//       0x60 result length (read): the board writes its JSON answer back over the request
//       buffer, up to 0x64 capacity (written by the kernel) bytes. Requests:
//         {"op":"load-image","image":PATH,"initrd":ADDRESS,"capacity":BYTES} → {"image":PATH,"initrdLength":N} | {"error":TEXT}
//         {"op":"write-file","path":PATH,"address":A,"length":N} → {"written":N} | {"error":TEXT}

import { RegisterBank, RegisterWindow, createRegisterBlock, type RegisterBlockDescriptor } from './mmio.js';
import type { Ram } from './ram.js';

export const FIRMWARE_BASE = 0x0010_0000;
export const FIRMWARE_SIZE = 0x1000;
export const FIRMWARE_VERSION = 1;

export const FinisherValue = { PASS: 0x5555, FAIL: 0x3333, RESET: 0x7777 } as const;
const KEXEC_MAGIC = 0x4b455845;

const Register = {
  FINISHER: 0x00,
  CONSOLE_ADDRESS_LOW: 0x10,
  CONSOLE_ADDRESS_HIGH: 0x14,
  CONSOLE_WRITE: 0x18,
  KEXEC_IMAGE_LOW: 0x20,
  KEXEC_IMAGE_HIGH: 0x24,
  KEXEC_IMAGE_LENGTH: 0x28,
  KEXEC_TREE_LOW: 0x2c,
  KEXEC_TREE_HIGH: 0x30,
  KEXEC_GO: 0x34,
  VERSION: 0x40,
  REQUEST_LOW: 0x50,
  REQUEST_HIGH: 0x54,
  REQUEST_LENGTH: 0x58,
  REQUEST_GO: 0x5c,
  RESULT_LENGTH: 0x60,
  REQUEST_CAPACITY: 0x64,
} as const;

export interface KexecRequest {
  /** Host path of the kernel image to enter. */
  readonly image: string;
  /** Physical address of the device tree blob the new kernel is entered with. */
  readonly deviceTree: number;
}

/** A host request from the kernel; returns the JSON answer (it must not throw). */
export type HostRequestHandler = (request: Record<string, unknown>, ram: Ram) => Record<string, unknown>;

export interface FirmwareEvents {
  powerOff(status: number): void;
  hostRequest?: HostRequestHandler;
  reset(): void;
  kexec(request: KexecRequest): void;
  consoleWrite(bytes: Uint8Array): void;
}

/** The board's side. Events are delivered after the trapped write has completed. */
export class FirmwareDevice {
  readonly descriptor: RegisterBlockDescriptor;
  private readonly bank: RegisterBank;
  private readonly ram: Ram;
  private readonly events: FirmwareEvents;
  private readonly latched = new Map<number, number>();

  constructor(ram: Ram, events: FirmwareEvents, base = FIRMWARE_BASE) {
    this.descriptor = createRegisterBlock(base, FIRMWARE_SIZE);
    this.bank = new RegisterBank(this.descriptor);
    this.bank.set32(Register.VERSION, FIRMWARE_VERSION);
    this.ram = ram;
    this.events = events;
  }

  start(): void {
    this.bank.start({ write: (offset, value) => this.write(offset, value) });
  }

  stop(): void {
    this.bank.stop();
  }

  private write(offset: number, value: number): void {
    this.latched.set(offset, value);
    switch (offset) {
      case Register.FINISHER: {
        const code = value & 0xffff;
        if (code === FinisherValue.PASS) setImmediate(() => this.events.powerOff(0));
        else if (code === FinisherValue.FAIL) setImmediate(() => this.events.powerOff(value >>> 16 || 1));
        else if (code === FinisherValue.RESET) setImmediate(() => this.events.reset());
        return;
      }
      case Register.CONSOLE_WRITE: {
        const address = this.address(Register.CONSOLE_ADDRESS_LOW, Register.CONSOLE_ADDRESS_HIGH);
        if (this.ram.contains(address, value)) this.events.consoleWrite(this.ram.read(address, value));
        return;
      }
      case Register.KEXEC_GO: {
        if (value !== KEXEC_MAGIC) return;
        const imageAddress = this.address(Register.KEXEC_IMAGE_LOW, Register.KEXEC_IMAGE_HIGH);
        const length = this.latched.get(Register.KEXEC_IMAGE_LENGTH) ?? 0;
        if (!this.ram.contains(imageAddress, length)) return;
        const image = new TextDecoder().decode(this.ram.read(imageAddress, length));
        const deviceTree = this.address(Register.KEXEC_TREE_LOW, Register.KEXEC_TREE_HIGH);
        setImmediate(() => this.events.kexec({ image, deviceTree }));
        return;
      }
      case Register.REQUEST_GO: {
        const address = this.address(Register.REQUEST_LOW, Register.REQUEST_HIGH);
        const length = this.latched.get(Register.REQUEST_LENGTH) ?? 0;
        const capacity = this.latched.get(Register.REQUEST_CAPACITY) ?? 0;
        let answer: Record<string, unknown>;
        try {
          const request = JSON.parse(new TextDecoder().decode(this.ram.read(address, length))) as Record<string, unknown>;
          answer = this.events.hostRequest ? this.events.hostRequest(request, this.ram) : { error: 'the board serves no host requests' };
        } catch (error) {
          answer = { error: `bad host request: ${(error as Error).message}` };
        }
        let bytes = new TextEncoder().encode(JSON.stringify(answer));
        if (bytes.length > capacity) bytes = new TextEncoder().encode(JSON.stringify({ error: 'answer larger than the request buffer' }));
        if (this.ram.contains(address, bytes.length)) this.ram.write(address, bytes);
        this.bank.set32(Register.RESULT_LENGTH, bytes.length);
        return;
      }
      default:
        return;
    }
  }

  private address(low: number, high: number): number {
    return (this.latched.get(high) ?? 0) * 0x1_0000_0000 + (this.latched.get(low) ?? 0);
  }
}

/** The kernel's side: what SBI calls are to a RISC-V kernel. */
export class FirmwareCalls {
  private readonly window: RegisterWindow;
  private readonly ram: Ram;

  constructor(descriptor: RegisterBlockDescriptor, ram: Ram) {
    this.window = new RegisterWindow(descriptor);
    this.ram = ram;
  }

  get version(): number {
    return this.window.read32(Register.VERSION);
  }

  /** Writes text to the early console through a RAM buffer at `scratch` (at least text length). */
  consoleWrite(scratch: number, bytes: Uint8Array): void {
    this.ram.write(scratch, bytes);
    this.writeAddress(Register.CONSOLE_ADDRESS_LOW, Register.CONSOLE_ADDRESS_HIGH, scratch);
    this.window.write32(Register.CONSOLE_WRITE, bytes.length);
  }

  powerOff(status: number): void {
    if (status === 0) this.window.write32(Register.FINISHER, FinisherValue.PASS);
    else this.window.write32(Register.FINISHER, FinisherValue.FAIL | ((status & 0xffff) << 16));
  }

  reset(): void {
    this.window.write32(Register.FINISHER, FinisherValue.RESET);
  }

  /** Enters the kernel image whose path is at [image, image+imageLength) with the tree at `deviceTree`. */
  kexec(image: number, imageLength: number, deviceTree: number): void {
    this.writeAddress(Register.KEXEC_IMAGE_LOW, Register.KEXEC_IMAGE_HIGH, image);
    this.window.write32(Register.KEXEC_IMAGE_LENGTH, imageLength);
    this.writeAddress(Register.KEXEC_TREE_LOW, Register.KEXEC_TREE_HIGH, deviceTree);
    this.window.write32(Register.KEXEC_GO, KEXEC_MAGIC);
  }

  /**
   * Sends a JSON host request through the RAM buffer [buffer, buffer+capacity) and returns
   * the board's JSON answer. The buffer must be RAM the kernel owns.
   */
  hostRequest(buffer: number, capacity: number, request: Record<string, unknown>): Record<string, unknown> {
    const bytes = new TextEncoder().encode(JSON.stringify(request));
    if (bytes.length > capacity) throw new RangeError('host request larger than its buffer');
    this.ram.write(buffer, bytes);
    this.writeAddress(Register.REQUEST_LOW, Register.REQUEST_HIGH, buffer);
    this.window.write32(Register.REQUEST_LENGTH, bytes.length);
    this.window.write32(Register.REQUEST_CAPACITY, capacity);
    this.window.write32(Register.REQUEST_GO, 1);
    const length = this.window.read32(Register.RESULT_LENGTH);
    return JSON.parse(new TextDecoder().decode(this.ram.read(buffer, length))) as Record<string, unknown>;
  }

  private writeAddress(low: number, high: number, address: number): void {
    this.window.write32(low, address % 0x1_0000_0000);
    this.window.write32(high, Math.floor(address / 0x1_0000_0000));
  }
}
