// virtio-console (virtio 1.2 §5.3), device id 3: the board's terminal.
//
// Port 0 is the console: host input bytes go to receiveq0 (queue 0), bytes the driver
// puts on transmitq0 (queue 1) go to the host output. Input that arrives while the
// driver has no receive buffers posted is kept (across device resets too) and delivered
// in order as buffers come; a Readable input is paused while too much is kept.
//
// End of input (host stdin closed) uses the standard mechanism, not an invented one:
// with VIRTIO_CONSOLE_F_MULTIPORT negotiated, the device runs the control queues
// (2 = control receiveq, 3 = control transmitq) and tells the driver the host side of
// port 0 is closed with a VIRTIO_CONSOLE_PORT_OPEN control message of value 0 — what
// QEMU sends when a virtio-serial chardev disconnects and what makes Linux's port read
// return 0 (EOF). It is sent only after every input byte is in receiveq0's used ring, so
// a driver that drains receiveq0 before acting on it loses nothing. Handshake:
//
//   driver → DEVICE_READY(1)   device → DEVICE_ADD(port 0)
//   driver → PORT_READY(0, 1)  device → CONSOLE_PORT(0, 1), PORT_OPEN(0, 1 or 0)
//   (input ends, buffer drained)         device → PORT_OPEN(0, 0)
//
// A driver that does not accept MULTIPORT gets the plain two-queue console (VERSION_1
// only) and no end-of-input signal.

import type { FaultSeverity, VirtioBackend, VirtioDeviceContext } from './backend.js';
import {
  CONSOLE_CONFIG, ConsoleControlEvent, type ConsoleControlMessage, ConsoleQueue, CONSOLE_CONTROL,
  decodeConsoleControl, encodeConsoleControl,
} from './console_layout.js';
import { ConsoleFeatureBit, DeviceId, FeatureBit, SPLIT_RING_FEATURES, features, hasFeature } from './registers.js';
import type { SplitQueueDevice } from './split_queue_device.js';

export type ConsoleOutput = NodeJS.WritableStream | ((bytes: Uint8Array) => void);

export interface VirtioConsoleOptions {
  /** Host input; its 'end' (or 'error') is the end of input. Omit to feed with pushInput()/endInput(). */
  readonly input?: NodeJS.ReadableStream;
  /** Where the driver's output goes. */
  readonly output: ConsoleOutput;
  /** QueueNumMax of every queue (default 64). */
  readonly queueSize?: number;
  /** Pause `input` while more than this many bytes wait for receive buffers (default 64 KiB). */
  readonly inputHighWater?: number;
}

const PORT = 0;

export class VirtioConsole implements VirtioBackend {
  readonly deviceId = DeviceId.CONSOLE;
  readonly features = features(FeatureBit.VERSION_1, ConsoleFeatureBit.MULTIPORT) | SPLIT_RING_FEATURES;
  readonly queueSizes: readonly number[];
  readonly config = CONSOLE_CONFIG.encode({ maximumPorts: 1 });
  private readonly write: (bytes: Uint8Array) => void;
  private readonly outputStream: NodeJS.WritableStream | undefined;
  private outputBroken = false;
  private readonly input: NodeJS.ReadableStream | undefined;
  private readonly highWater: number;
  private readonly listeners: { data: (chunk: Uint8Array | string) => void; end: () => void; outputError: (error: Error) => void };
  private context: VirtioDeviceContext | undefined;
  private readonly pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private ended = false;
  private inputPaused = false;
  private queues: SplitQueueDevice[] = [];
  private multiport = false;
  private readonly controlToDriver: ConsoleControlMessage[] = [];
  private portReady = false;
  private hostClosedSent = false;
  private guestOpen = false;

  constructor(options: VirtioConsoleOptions) {
    const size = options.queueSize ?? 64;
    this.queueSizes = [size, size, size, size];
    const output = options.output;
    this.outputStream = typeof output === 'function' ? undefined : output;
    this.write = typeof output === 'function' ? output : (bytes) => { output.write(bytes); };
    this.highWater = options.inputHighWater ?? 64 * 1024;
    this.listeners = {
      data: (chunk) => this.pushInput(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk),
      end: () => this.endInput(),
      outputError: (error) => {
        // A closed terminal (EPIPE) must not take the board down: output is dropped from now on.
        this.outputBroken = true;
        this.report(`host output failed, dropping output from now on: ${error.message}`, 'warning');
      },
    };
    this.outputStream?.on('error', this.listeners.outputError);
    this.input = options.input;
    this.input?.on('data', this.listeners.data);
    this.input?.on('end', this.listeners.end);
    this.input?.on('error', this.listeners.end);
  }

  /** True once the host input has ended (whether or not the driver was told yet). */
  get inputEnded(): boolean {
    return this.ended;
  }

  /** Input bytes waiting for receive buffers. */
  get bufferedInput(): number {
    return this.pendingBytes;
  }

  /** Whether the driver said the guest side of port 0 is open (MULTIPORT only). */
  get guestPortOpen(): boolean {
    return this.guestOpen;
  }

  /** Queues host input for the driver (the bytes are copied). Throws if input has ended. */
  pushInput(bytes: Uint8Array): void {
    if (this.ended) throw new Error('console input pushed after endInput()');
    if (bytes.length === 0) return;
    this.pending.push(bytes.slice());
    this.pendingBytes += bytes.length;
    if (this.input !== undefined && !this.inputPaused && this.pendingBytes > this.highWater) {
      this.inputPaused = true;
      this.input.pause();
    }
    this.deliverInput();
  }

  /** Marks the end of host input; the driver learns it once buffered input is delivered. */
  endInput(): void {
    if (this.ended) return;
    this.ended = true;
    this.announceHostState();
  }

  attach(context: VirtioDeviceContext): void {
    this.context = context;
  }

  activate(queues: SplitQueueDevice[], negotiated: bigint): void {
    this.queues = queues;
    this.multiport = hasFeature(negotiated, ConsoleFeatureBit.MULTIPORT);
  }

  queueNotified(index: number): void {
    switch (index) {
      case ConsoleQueue.RECEIVE: this.deliverInput(); break;
      case ConsoleQueue.TRANSMIT: this.drainTransmit(); break;
      case ConsoleQueue.CONTROL_RECEIVE: this.deliverControl(); break;
      case ConsoleQueue.CONTROL_TRANSMIT: this.readControl(); break;
    }
  }

  reset(): void {
    this.queues = [];
    this.multiport = false;
    this.controlToDriver.length = 0;
    this.portReady = false;
    this.hostClosedSent = false;
    this.guestOpen = false;
  }

  close(): void {
    this.input?.off('data', this.listeners.data);
    this.input?.off('end', this.listeners.end);
    this.input?.off('error', this.listeners.end);
    this.outputStream?.off('error', this.listeners.outputError);
  }

  private deliverInput(): void {
    const queue = this.queues[ConsoleQueue.RECEIVE];
    if (queue === undefined || !queue.enabled) return;
    while (this.pending.length > 0) {
      const chain = queue.nextChain();
      if (chain === undefined) break;
      let written = 0;
      while (this.pending.length > 0 && written < chain.writableLength) {
        const chunk = this.pending[0]!;
        const copied = queue.write(chain, chunk, written);
        if (copied === 0) break;
        written += copied;
        this.pendingBytes -= copied;
        if (copied === chunk.length) this.pending.shift();
        else this.pending[0] = chunk.subarray(copied);
      }
      queue.pushUsed(chain.head, written);
    }
    queue.notifyIfNeeded();
    if (this.inputPaused && this.pendingBytes <= this.highWater / 2) {
      this.inputPaused = false;
      this.input?.resume();
    }
    this.announceHostState();
  }

  private drainTransmit(): void {
    const queue = this.queues[ConsoleQueue.TRANSMIT];
    if (queue === undefined) return;
    for (let chain = queue.nextChain(); chain !== undefined; chain = queue.nextChain()) {
      if (chain.readableLength > 0 && !this.outputBroken) this.write(queue.read(chain));
      queue.pushUsed(chain.head, 0);
    }
    queue.notifyIfNeeded();
  }

  private readControl(): void {
    const queue = this.queues[ConsoleQueue.CONTROL_TRANSMIT];
    if (queue === undefined || !this.multiport) return;
    for (let chain = queue.nextChain(); chain !== undefined; chain = queue.nextChain()) {
      if (chain.readableLength < CONSOLE_CONTROL.size) {
        this.report(`control message of ${chain.readableLength} bytes is shorter than ${CONSOLE_CONTROL.size}`, 'warning');
      } else {
        this.handleControl(decodeConsoleControl(queue.read(chain, 0, CONSOLE_CONTROL.size)));
      }
      queue.pushUsed(chain.head, 0);
    }
    queue.notifyIfNeeded();
    this.deliverControl();
  }

  private handleControl(message: ConsoleControlMessage): void {
    switch (message.event) {
      case ConsoleControlEvent.DEVICE_READY:
        if (message.value === 1) this.sendControl(ConsoleControlEvent.DEVICE_ADD, 0);
        else this.report('driver failed to initialise the console (DEVICE_READY 0)', 'warning');
        return;
      case ConsoleControlEvent.PORT_READY:
        if (message.id !== PORT) return this.report(`PORT_READY for unknown port ${message.id}`, 'warning');
        if (message.value !== 1) return this.report('driver failed to set up port 0 (PORT_READY 0)', 'warning');
        this.portReady = true;
        this.sendControl(ConsoleControlEvent.CONSOLE_PORT, 1);
        this.hostClosedSent = this.hostClosed();
        this.sendControl(ConsoleControlEvent.PORT_OPEN, this.hostClosedSent ? 0 : 1);
        return;
      case ConsoleControlEvent.PORT_OPEN:
        if (message.id !== PORT) return this.report(`PORT_OPEN for unknown port ${message.id}`, 'warning');
        this.guestOpen = message.value === 1;
        return;
      default:
        this.report(`control event ${message.event} from the driver is not handled`, 'warning');
    }
  }

  /** The host side of port 0 counts as closed once input ended and everything was delivered. */
  private hostClosed(): boolean {
    return this.ended && this.pendingBytes === 0;
  }

  private announceHostState(): void {
    if (!this.multiport || !this.portReady || this.hostClosedSent || !this.hostClosed()) return;
    this.hostClosedSent = true;
    this.sendControl(ConsoleControlEvent.PORT_OPEN, 0);
  }

  private sendControl(event: number, value: number): void {
    this.controlToDriver.push({ id: PORT, event, value });
    this.deliverControl();
  }

  private deliverControl(): void {
    const queue = this.queues[ConsoleQueue.CONTROL_RECEIVE];
    if (queue === undefined || !queue.enabled) return;
    while (this.controlToDriver.length > 0) {
      const chain = queue.nextChain();
      if (chain === undefined) break;
      if (chain.writableLength < CONSOLE_CONTROL.size) {
        this.report(`control receive buffer of ${chain.writableLength} bytes is shorter than ${CONSOLE_CONTROL.size}`, 'warning');
        queue.pushUsed(chain.head, 0);
        continue;
      }
      const written = queue.write(chain, encodeConsoleControl(this.controlToDriver.shift()!));
      queue.pushUsed(chain.head, written);
    }
    queue.notifyIfNeeded();
  }

  private report(message: string, severity: FaultSeverity): void {
    this.context?.report(`console: ${message}`, severity);
  }
}
