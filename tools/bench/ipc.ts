// IPC benchmarks: the round trip of an Endpoint call against the raw mechanisms under it.
//
//   ipc.call.<size>          Endpoint call, client in this thread, server Endpoint in a worker:
//                            encode, ring, validate, dispatch, reply, validate, settle
//   ipc.postmessage.<size>   postMessage ping-pong with the same msgpack encode/decode
//   ipc.sab-block.<size>     SharedArrayBuffer ping-pong on hal doorbells, both sides blocking
//                            in Atomics.wait at once
//   ipc.sab-spin.<size>      the same, both sides spinning (up to SPIN_BOUND_MICROS) before
//                            blocking: the target; ipc.call.64B aims at <= 2x this
//
// The four peers are started once and measured interleaved: each sample runs ROUND_TRIPS
// round trips of every mechanism in turn (after a short warm-up of that mechanism), so a
// change of machine load hits all of them alike and the ratios, all against ipc.sab-spin of
// the same size, compare like with like. Every time figure is the median µs per round trip
// over SAMPLES samples, with min/max.
//
// Where the time goes, in the same run:
//   ipc.<mechanism>.<size>.cpu   CPU µs per round trip of the whole process (both threads;
//                                process.cpuUsage), against ipc.sab-spin's: what spinning costs
//   ipc.call.<size>.parks        times either Endpoint parked, per round trip (each park is a
//                                wake-up its peer pays for; 0 when both keep spinning)
//   ipc.call.<size>.spin         µs both Endpoints spent spinning per round trip
//   ipc.work.<size>              the Endpoint's work of one round trip in one thread, without
//                                any waiting: encode CALL, ring in/out, decode, shape and args
//                                check, encode REPLY, ring in/out, decode, shape and reply check;
//                                against ipc.work-baseline.<size>, the msgpack pack/unpack and
//                                copies the SAB baselines do per round trip
//   ipc.work.<size>.validate     the four checks alone (parseRequest, args schema, parseResponse,
//                                reply schema): what validating every message costs
//
// Sizes: 64 B and 4 KiB of payload bytes ({ data: Uint8Array }, echoed back). Baselines copy
// with plain Uint8Array set/slice, as straightforward code would; the Endpoint's rings copy
// 8 bytes per element (see ipc/ring.ts), which is part of what is being measured at 4 KiB.

import { isMainThread, Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { Type } from '../../ipc/typebox.js';
import { pack, unpack } from 'msgpackr';
import { DoorbellPage } from '../../hal/doorbells.js';
import { createChannel } from '../../ipc/channel.js';
import { compileInterface, defineInterface, explainMismatch } from '../../ipc/define.js';
import { Endpoint, type EndpointOptions, type EndpointWaitStats } from '../../ipc/endpoint.js';
import { Ring } from '../../ipc/ring.js';
import { decodeFrame, encodeCall, encodeReply, parseRequest, parseResponse } from '../../ipc/wire.js';
import { figure, summarize, type Benchmark, type Figure, type Samples } from './measure.js';

/** The interface the Endpoint benchmark calls (also imported by fixtures/ipc_endpoint_server.mjs). */
export const benchInterface = defineInterface({
  name: 'bench.echo',
  ops: {
    echo: { id: 1, kind: 'call', idempotent: true, args: Type.Object({ data: Type.Uint8Array() }), reply: Type.Uint8Array() },
  },
});

const SIZES = [64, 4096] as const;
const SAMPLES = 15;
const ROUND_TRIPS = 2000;
/** Round trips of a mechanism before each of its samples (its peer may have parked meanwhile). */
const SAMPLE_WARM_UP = 200;
const WARM_UP_ROUND_TRIPS = 5000;
/** How long the raw spinning baseline spins before blocking (the Endpoint's default maximum budget). */
const SPIN_BOUND_MICROS = 50;
const AREA_BYTES = 16384;
// Each mechanism has its own pair of doorbell slots, so no ring of one wakes another's waiter.
const CLIENT_SLOT = 1;
const ENDPOINT_PEER_SLOT = 2;
const SPIN_SLOTS = { client: 3, peer: 4 };
const BLOCK_SLOTS = { client: 5, peer: 6 };
const WORK_ROUND_TRIPS = 20_000;

const fixture = (name: string) => new URL(`../../../tools/bench/fixtures/${name}`, import.meta.url);

function label(size: number): string {
  return size >= 1024 ? `${size / 1024}KiB` : `${size}B`;
}

function payload(size: number): { data: Uint8Array } {
  return { data: Uint8Array.from({ length: size }, (_, i) => i & 0xff) };
}

function once(worker: Worker, accept: (message: unknown) => boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (!accept(message)) return;
      worker.off('message', onMessage);
      worker.off('error', reject);
      resolve(message);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

const typed = (type: string) => (message: unknown) => (message as { type?: string }).type === type;

/** Atomics.load iterations per µs on this machine, for a time-bounded spin count. */
export function loadsPerMicro(): number {
  const words = new Int32Array(new SharedArrayBuffer(8));
  const iterations = 2_000_000;
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let i = 0; i < iterations && Atomics.load(words, 0) === 0; i++);
    best = Math.max(best, iterations / ((performance.now() - start) * 1000));
  }
  return best;
}

/** One way of doing round trips with a peer thread, started and ready. */
interface Mechanism {
  readonly name: string;
  roundTrips(count: number): Promise<void> | void;
  close(): Promise<void>;
}

/** What one mechanism's samples gave. */
interface Measured {
  readonly micros: number[];
  readonly cpuMicros: number[];
}

/** An Endpoint client here, an Endpoint server in a worker; `waits()` sums both loops' wait counters. */
export async function openEndpoint(doorbells: DoorbellPage, size: number, spin?: EndpointOptions['spin']): Promise<EndpointMechanism> {
  const worker = new Worker(fixture('ipc_endpoint_server.mjs'), { workerData: { doorbells: doorbells.buffer, slot: ENDPOINT_PEER_SLOT, spin } });
  const client = new Endpoint({ doorbells, slot: CLIENT_SLOT, name: 'bench-client', spin });
  const channel = createChannel({ id: 1, interfaceName: benchInterface.name, clientSlot: CLIENT_SLOT, serverSlot: ENDPOINT_PEER_SLOT, serverGeneration: 1 });
  try {
    await once(worker, typed('ready'));
    const attached = once(worker, typed('attached'));
    worker.postMessage({ type: 'attach', channel });
    await attached;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  client.start();
  const echo = client.attachClient(channel).bind(benchInterface);
  const args = payload(size);
  const ask = async <T>(type: string): Promise<T> => {
    const answer = once(worker, typed(type));
    worker.postMessage({ type });
    return (await answer) as T;
  };
  return {
    name: `ipc.call.${label(size)}`,
    async roundTrips(count) {
      for (let i = 0; i < count; i++) await echo.echo(args);
    },
    async waits() {
      const { stats, budgets } = await ask<{ stats: EndpointWaitStats; budgets: Endpoint['spinBudgets'] }>('wait-stats');
      return { stats: addWaits(client.waitStats, stats), budgets: { client: client.spinBudgets, server: budgets } };
    },
    async close() {
      const stopped = once(worker, typed('stopped'));
      worker.postMessage({ type: 'stop' });
      await stopped;
      await client.stop();
      await worker.terminate();
    },
  };
}

interface EndpointMechanism extends Mechanism {
  waits(): Promise<{ stats: EndpointWaitStats; budgets: { client: Endpoint['spinBudgets']; server: Endpoint['spinBudgets'] } }>;
}

function addWaits(a: EndpointWaitStats, b: EndpointWaitStats): EndpointWaitStats {
  return {
    spinHits: a.spinHits + b.spinHits,
    spinsExpired: a.spinsExpired + b.spinsExpired,
    parks: a.parks + b.parks,
    peersWoken: a.peersWoken + b.peersWoken,
    spinMicros: a.spinMicros + b.spinMicros,
  };
}

/** postMessage ping-pong with a worker that msgpack-decodes the request and encodes the data back. */
export async function openPostMessage(size: number): Promise<Mechanism> {
  const worker = new Worker(fixture('ipc_baseline_peer.mjs'), { workerData: { mode: 'post' } });
  await once(worker, (message) => message === 'ready');
  const args = payload(size);
  let resolveReply: () => void = () => {};
  worker.on('message', (reply: Uint8Array) => {
    unpack(reply);
    resolveReply();
  });
  const roundTrip = () => new Promise<void>((resolve) => {
    resolveReply = resolve;
    const request = Uint8Array.prototype.slice.call(pack(args));
    worker.postMessage(request, [request.buffer]);
  });
  return {
    name: `ipc.postmessage.${label(size)}`,
    async roundTrips(count) {
      for (let i = 0; i < count; i++) await roundTrip();
    },
    async close() {
      await worker.terminate();
    },
  };
}

/** SharedArrayBuffer ping-pong on hal doorbells; both sides spin `spins` loads, then block in Atomics.wait. */
export async function openSab(doorbells: DoorbellPage, size: number, spins: number, slots: { client: number; peer: number }, name: string): Promise<Mechanism> {
  const { client, peer } = slots;
  const buffer = new SharedArrayBuffer(64 + 2 * AREA_BYTES);
  const words = new Int32Array(buffer, 0, 16);
  const requestArea = new Uint8Array(buffer, 64, AREA_BYTES);
  const replyArea = new Uint8Array(buffer, 64 + AREA_BYTES, AREA_BYTES);
  const worker = new Worker(fixture('ipc_baseline_peer.mjs'), {
    workerData: { mode: 'sab', buffer, doorbells: doorbells.buffer, slot: peer, clientSlot: client, spins },
  });
  await once(worker, (message) => message === 'ready');
  const args = payload(size);
  return {
    name,
    roundTrips(count) {
      let seen = doorbells.sequence(client);
      for (let i = 0; i < count; i++) {
        const request = pack(args);
        requestArea.set(request);
        Atomics.store(words, 0, request.length);
        doorbells.ring(peer);
        seen = doorbells.waitSync(client, seen, { spins });
        unpack(replyArea.slice(0, Atomics.load(words, 1)));
      }
    },
    async close() {
      Atomics.store(words, 2, 1);
      doorbells.ring(peer);
      await worker.terminate();
    },
  };
}

/** Runs `mechanisms` interleaved, SAMPLES samples of ROUND_TRIPS each; µs and CPU µs per round trip. */
async function interleaved(mechanisms: readonly Mechanism[], onSample?: (index: number) => Promise<void>): Promise<Measured[]> {
  const measured = mechanisms.map(() => ({ micros: [] as number[], cpuMicros: [] as number[] }));
  for (const mechanism of mechanisms) await mechanism.roundTrips(WARM_UP_ROUND_TRIPS);
  for (let sample = 0; sample < SAMPLES; sample++) {
    for (const [index, mechanism] of mechanisms.entries()) {
      await mechanism.roundTrips(SAMPLE_WARM_UP);
      if (onSample) await onSample(index);
      const cpu = process.cpuUsage();
      const start = performance.now();
      await mechanism.roundTrips(ROUND_TRIPS);
      const elapsed = performance.now() - start;
      const used = process.cpuUsage(cpu);
      measured[index]!.micros.push((elapsed * 1000) / ROUND_TRIPS);
      measured[index]!.cpuMicros.push((used.user + used.system) / ROUND_TRIPS);
      if (onSample) await onSample(index);
    }
  }
  return measured;
}

/**
 * The Endpoint's work of `count` round trips in one thread, without waiting: both frames
 * through real rings, decoded and checked as the two ends do. `validateOnly` times the checks alone.
 */
function endpointWork(size: number): { all: () => void; validate: () => void; baseline: () => void } {
  const operation = compileInterface(benchInterface).operationsById.get(1)!;
  const args = payload(size);
  const requests = Ring.create(64 * 1024);
  const replies = Ring.create(64 * 1024);
  const requestsReader = new Ring(requests.buffer);
  const repliesReader = new Ring(replies.buffer);
  // Copies: encode returns a view of a reused Node Buffer, whose slice() does not copy.
  const callFrame = Uint8Array.prototype.slice.call(encodeCall(1, 1, args));
  const replyFrame = Uint8Array.prototype.slice.call(encodeReply(1, args.data));
  const request = decodeFrame(callFrame);
  const reply = decodeFrame(replyFrame);
  const area = new Uint8Array(new SharedArrayBuffer(AREA_BYTES));
  let sink = 0;
  const fail = (what: string) => {
    throw new Error(`bench: ${what}`);
  };
  return {
    all() {
      for (let i = 0; i < WORK_ROUND_TRIPS; i++) {
        requests.tryWrite(encodeCall(1, 1, args));
        const requestLength = requestsReader.tryReadIntoScratch();
        const decoded = decodeFrame(requestsReader.scratch, requestLength);
        const parsed = 'value' in decoded ? parseRequest(decoded.value) : fail('undecodable request');
        if (parsed.kind !== 1 || explainMismatch(operation.args, parsed.args) !== undefined) fail('request check');
        replies.tryWrite(encodeReply(1, (parsed as { args: { data: Uint8Array } }).args.data));
        const replyLength = repliesReader.tryReadIntoScratch();
        const answer = decodeFrame(repliesReader.scratch, replyLength);
        const response = 'value' in answer ? parseResponse(answer.value) : fail('undecodable reply');
        if (response.kind !== 3 || explainMismatch(operation.reply!, response.value) !== undefined) fail('reply check');
      }
    },
    validate() {
      for (let i = 0; i < WORK_ROUND_TRIPS; i++) {
        const parsed = parseRequest((request as { value: unknown }).value);
        if (parsed.kind !== 1 || explainMismatch(operation.args, parsed.args) !== undefined) fail('request check');
        const response = parseResponse((reply as { value: unknown }).value);
        if (response.kind !== 3 || explainMismatch(operation.reply!, response.value) !== undefined) fail('reply check');
      }
    },
    baseline() {
      for (let i = 0; i < WORK_ROUND_TRIPS; i++) {
        const requestBytes = pack(args);
        area.set(requestBytes);
        const decoded = unpack(area.slice(0, requestBytes.length)) as { data: Uint8Array };
        const replyBytes = pack(decoded.data);
        area.set(replyBytes);
        sink += (unpack(area.slice(0, replyBytes.length)) as Uint8Array).length;
      }
      if (sink < 0) fail('sink');
    },
  };
}

/** µs per round trip of a synchronous body doing WORK_ROUND_TRIPS round trips, interleaved. */
function workSamples(bodies: ReadonlyArray<() => void>): Samples[] {
  for (const body of bodies) body();
  const values = bodies.map(() => [] as number[]);
  for (let sample = 0; sample < SAMPLES; sample++) {
    for (const [index, body] of bodies.entries()) {
      const start = performance.now();
      body();
      values[index]!.push(((performance.now() - start) * 1000) / WORK_ROUND_TRIPS);
    }
  }
  return values.map(summarize);
}

async function runIpc(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const spins = Math.round(loadsPerMicro() * SPIN_BOUND_MICROS);
  for (const size of SIZES) {
    const suffix = label(size);
    const doorbells = new DoorbellPage();
    const opened: Mechanism[] = [];
    try {
      opened.push(await openSab(doorbells, size, spins, SPIN_SLOTS, `ipc.sab-spin.${suffix}`));
      opened.push(await openSab(doorbells, size, 0, BLOCK_SLOTS, `ipc.sab-block.${suffix}`));
      opened.push(await openPostMessage(size));
      const endpoint = await openEndpoint(doorbells, size);
      opened.push(endpoint);
      const endpointIndex = opened.length - 1;
      const waitsPerSample: EndpointWaitStats[] = [];
      let before: EndpointWaitStats | undefined;
      const measured = await interleaved(opened, async (index) => {
        if (index !== endpointIndex) return;
        const { stats } = await endpoint.waits();
        if (before === undefined) {
          before = stats;
          return;
        }
        waitsPerSample.push(perRoundTrip(before, stats));
        before = undefined;
      });
      const spin = { name: opened[0]!.name, samples: summarize(measured[0]!.micros) };
      const spinCpu = { name: `${spin.name}.cpu`, samples: summarize(measured[0]!.cpuMicros) };
      figures.push(figure(spin.name, 'us', spin.samples));
      for (const [index, mechanism] of opened.entries()) {
        if (index > 0) figures.push(figure(mechanism.name, 'us', summarize(measured[index]!.micros), spin));
      }
      figures.push(figure(spinCpu.name, 'us CPU', spinCpu.samples));
      for (const [index, mechanism] of opened.entries()) {
        if (index > 0) figures.push(figure(`${mechanism.name}.cpu`, 'us CPU', summarize(measured[index]!.cpuMicros), spinCpu));
      }
      figures.push(figure(`ipc.call.${suffix}.parks`, 'per call', summarize(waitsPerSample.map((waits) => waits.parks))));
      figures.push(figure(`ipc.call.${suffix}.spin`, 'us', summarize(waitsPerSample.map((waits) => waits.spinMicros))));
      process.stderr.write(`ipc.call.${suffix}: spin budgets at the end (µs; cooling: expired spins left in each cooling) ${JSON.stringify((await endpoint.waits()).budgets, (_, value: unknown) => typeof value === 'number' ? Math.round(value) : value)}\n`);
    } finally {
      for (const mechanism of opened) await mechanism.close();
    }
    const work = endpointWork(size);
    const [all, validate, baseline] = workSamples([work.all, work.validate, work.baseline]);
    const workBaseline = { name: `ipc.work-baseline.${suffix}`, samples: baseline! };
    figures.push(
      figure(workBaseline.name, 'us', workBaseline.samples),
      figure(`ipc.work.${suffix}`, 'us', all!, workBaseline),
      figure(`ipc.work.${suffix}.validate`, 'us', validate!, workBaseline),
    );
  }
  return figures;
}

/** Wait counters between two snapshots, per round trip of one sample. */
function perRoundTrip(before: EndpointWaitStats, after: EndpointWaitStats): EndpointWaitStats {
  const per = (key: keyof EndpointWaitStats) => (after[key] - before[key]) / ROUND_TRIPS;
  return { spinHits: per('spinHits'), spinsExpired: per('spinsExpired'), parks: per('parks'), peersWoken: per('peersWoken'), spinMicros: per('spinMicros') };
}

export const benchmarks: Benchmark[] = [{ name: 'ipc', run: runIpc }];

// `node build/tools/bench/ipc.js` runs this file alone.
if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const result of await runIpc()) {
    const ratio = result.ratio === undefined ? '' : `  ${result.ratio.toFixed(2)}x ${result.baseline}`;
    console.log(`${result.name.padEnd(24)} ${result.median.toFixed(2).padStart(8)} ${result.unit}  (${result.min.toFixed(2)}..${result.max.toFixed(2)})${ratio}`);
  }
}
