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
//       Writing 1 to request go waits for the answer (the write returns with it in place).
//       Writing 2 starts an asynchronous request, for one that takes the host long (type-
//       checking a driver at `load`): the write returns at once with 0x68 request status
//       1 (pending); the board writes the answer back over that request's buffer, its length
//       to 0x6c, then sets the status to 2 (done) and wakes its waiters (Atomics.notify on
//       the status word), so neither the kernel nor the board's own thread is held up
//       meanwhile. One asynchronous request at a time; a second while one is pending is
//       answered at once with an error. An answer due after a reset or kexec is dropped.
//         {"op":"load-driver","path":PATH} → {"spec":PROGRAM_SPEC} | {"error":TEXT,"code":CODE,...}
//         {"op":"reset-reason","text":TEXT} → {"kept":N}: the board keeps TEXT for the boot after
//             the next reset, in /chosen baton,reset-reason (as a reset-cause register)

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
  REQUEST_STATUS: 0x68,
  LATER_RESULT_LENGTH: 0x6c,
} as const;

/** What is written to request go: wait for the answer, or have it later. */
const RequestGo = { WAIT: 1, LATER: 2 } as const;
/** The asynchronous request's state (0x68). */
export const RequestStatus = { IDLE: 0, PENDING: 1, DONE: 2 } as const;

export interface KexecRequest {
  /** Host path of the kernel image to enter. */
  readonly image: string;
  /** Physical address of the device tree blob the new kernel is entered with. */
  readonly deviceTree: number;
}

/**
 * A host request from the kernel; returns the JSON answer, or a promise of it for a request
 * sent to be answered later (it must not throw or reject; the board turns either into an error answer).
 */
export type HostRequestHandler = (request: Record<string, unknown>, ram: Ram) => Record<string, unknown> | Promise<Record<string, unknown>>;

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
  /** False once stopped: an answer due later is not written into a RAM that a reset or kexec handed on. */
  private serving = true;

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
    this.serving = false;
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
        if (value === RequestGo.LATER) {
          this.answerLater(address, length, capacity);
          return;
        }
        let answer = this.serve(address, length);
        if (answer instanceof Promise) {
          answer.catch(() => undefined);
          answer = { error: 'this host request is answered later: send it with request go 2' };
        }
        this.bank.set32(Register.RESULT_LENGTH, this.writeAnswer(address, capacity, answer));
        return;
      }
      default:
        return;
    }
  }

  /** The handler's answer to the request at [address, address+length); never throws. */
  private serve(address: number, length: number): Record<string, unknown> | Promise<Record<string, unknown>> {
    try {
      const request = JSON.parse(new TextDecoder().decode(this.ram.read(address, length))) as Record<string, unknown>;
      return this.events.hostRequest ? this.events.hostRequest(request, this.ram) : { error: 'the board serves no host requests' };
    } catch (error) {
      return { error: `bad host request: ${(error as Error).message}` };
    }
  }

  /** Writes `answer` over the request buffer (or an error saying it did not fit); returns its length. */
  private writeAnswer(address: number, capacity: number, answer: Record<string, unknown>): number {
    let bytes = new TextEncoder().encode(JSON.stringify(answer));
    if (bytes.length > capacity) bytes = new TextEncoder().encode(JSON.stringify({ error: 'answer larger than the request buffer' }));
    if (this.ram.contains(address, bytes.length)) this.ram.write(address, bytes);
    return bytes.length;
  }

  /** Request go 2: status pending now; the answer, its length and status done when the handler's promise settles. */
  private answerLater(address: number, length: number, capacity: number): void {
    const finish = (answer: Record<string, unknown>): void => {
      if (!this.serving) return;
      this.bank.set32(Register.LATER_RESULT_LENGTH, this.writeAnswer(address, capacity, answer));
      this.bank.set32(Register.REQUEST_STATUS, RequestStatus.DONE);
      this.bank.notify32(Register.REQUEST_STATUS);
    };
    if (this.bank.get32(Register.REQUEST_STATUS) === RequestStatus.PENDING) {
      // The buffer of the pending request is not touched: answer this one in its own.
      this.bank.set32(Register.LATER_RESULT_LENGTH, this.writeAnswer(address, capacity, { error: 'another host request is pending' }));
      this.bank.set32(Register.REQUEST_STATUS, RequestStatus.DONE);
      return;
    }
    this.bank.set32(Register.REQUEST_STATUS, RequestStatus.PENDING);
    Promise.resolve(this.serve(address, length)).then(finish, (error: unknown) => finish({ error: `host request failed: ${(error as Error).message}` }));
  }

  private address(low: number, high: number): number {
    return (this.latched.get(high) ?? 0) * 0x1_0000_0000 + (this.latched.get(low) ?? 0);
  }
}

/** The kernel's side: what SBI calls are to a RISC-V kernel. */
export class FirmwareCalls {
  private readonly window: RegisterWindow;
  private readonly ram: Ram;
  /** The last request sent to be answered later: the next waits for it. */
  private laterQueue: Promise<unknown> = Promise.resolve();

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
    this.window.write32(Register.REQUEST_GO, RequestGo.WAIT);
    const length = this.window.read32(Register.RESULT_LENGTH);
    return JSON.parse(new TextDecoder().decode(this.ram.read(buffer, length))) as Record<string, unknown>;
  }

  /**
   * Sends a JSON host request to be answered later (request go 2) through the RAM buffer
   * [buffer, buffer+capacity), which must be RAM the kernel owns and no other request uses;
   * resolves with the board's answer without blocking this thread. Requests sent this way
   * go one at a time, in order.
   */
  hostRequestLater(buffer: number, capacity: number, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const send = async (): Promise<Record<string, unknown>> => {
      const bytes = new TextEncoder().encode(JSON.stringify(request));
      if (bytes.length > capacity) throw new RangeError('host request larger than its buffer');
      this.ram.write(buffer, bytes);
      this.writeAddress(Register.REQUEST_LOW, Register.REQUEST_HIGH, buffer);
      this.window.write32(Register.REQUEST_LENGTH, bytes.length);
      this.window.write32(Register.REQUEST_CAPACITY, capacity);
      this.window.write32(Register.REQUEST_GO, RequestGo.LATER);
      await this.window.whenEqual32(Register.REQUEST_STATUS, RequestStatus.DONE);
      const length = this.window.read32(Register.LATER_RESULT_LENGTH);
      return JSON.parse(new TextDecoder().decode(this.ram.read(buffer, length))) as Record<string, unknown>;
    };
    const answer = this.laterQueue.then(send, send);
    this.laterQueue = answer.catch(() => undefined);
    return answer;
  }

  private writeAddress(low: number, high: number, address: number): void {
    this.window.write32(low, address % 0x1_0000_0000);
    this.window.write32(high, Math.floor(address / 0x1_0000_0000));
  }
}
