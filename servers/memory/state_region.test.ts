// The memory server's state in RAM: a new generation attached to the region finds exactly what
// the last finished operation left, whatever word a crash cut an operation short at.
//
// Each step of a workload (allocations, a contiguous run, address spaces with demand-zero and
// copy-on-write faults, grants, frees, destroy, reclaim) is run once, then again from the same
// RAM with a crash injected before journal entry 0, 1, 2, … (Journal.crashAfter: the operation
// stops there, as a terminated thread would) until it runs through. A MemoryServer
// attached to the RAM the crash left must pass every allocator check and be exactly the state
// before the step; running the step there must give exactly the state the uncut step gave.

import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../hal/address.js';
import { Ram } from '../../hal/ram.js';
import { memoryStateBytes } from '../../ipc/interfaces/memory_state.js';
import { SimulatedCrash } from './journal.js';
import { MemoryMap } from './memory_map.js';
import { MemoryServer } from './memory_server.js';
import { StateRegion } from './state_region.js';
import { permissions } from './sv32.js';

const MiB = 1024 * 1024;
const A = 1;
const B = 2;
const C = 3;

function mapOf(ram: Ram, state: { base: number; size: number }): MemoryMap {
  const map = MemoryMap.build({ ram: [{ base: ram.base, size: ram.size }] });
  map.reserve(state, 'memory server state');
  return map;
}

/** A new generation on what `ram` holds, and the journal it writes through. */
function generation(ram: Ram, state: { base: number; size: number }): { memory: MemoryServer; region: StateRegion } {
  const found = StateRegion.attach(ram, state.base, state.size);
  if (!('region' in found)) throw new Error(`no state to attach to: ${JSON.stringify(found)}`);
  return { memory: MemoryServer.attach(ram, mapOf(ram, state), found.region).memory, region: found.region };
}

function attach(ram: Ram, state: { base: number; size: number }): MemoryServer {
  return generation(ram, state).memory;
}

/** Everything a client could observe: every block, every mapping, every grant and the accounts. */
function fingerprint(memory: MemoryServer): string {
  memory.buddy.checkConsistency();
  const blocks: unknown[] = [];
  for (let page = memory.ram.base; page < memory.ram.end;) {
    const block = memory.buddy.blockAt(page)!;
    blocks.push(block);
    page = block.base + (PAGE_SIZE << block.order);
  }
  const { translationCache: _cache, ...report } = memory.report();
  const spaces = report.spaces.map((space) => ({ ...space, regions: memory.space(space.id).regions, mappings: memory.space(space.id).mappings() }));
  return JSON.stringify({ blocks, report, spaces });
}

/** What the workload remembers between steps (addresses and ids the steps return). */
interface Held { blocks: number[]; run?: number; space?: number; child?: number; grant?: number }

const steps: { name: string; run: (memory: MemoryServer, held: Held) => void }[] = [
  { name: 'allocate order 0 and 3', run: (memory, held) => void held.blocks.push(memory.allocate(A), memory.allocate(A, { order: 3, zeroed: true }), memory.allocate(B)) },
  { name: 'free to the hot cache', run: (memory, held) => void memory.free(B, held.blocks.pop()!) },
  { name: 'allocate a contiguous run', run: (memory, held) => void (held.run = memory.allocateContiguous(B, 300, { zeroed: true }).base) },
  { name: 'create a space and map a block', run: (memory, held) => {
    held.space = memory.createSpace(A);
    memory.map(A, held.space, 0x4000_0000, held.blocks[0]!, permissions('rwu'));
  } },
  { name: 'reserve a demand-zero region', run: (memory, held) => memory.reserveRegion(A, held.space!, 0x1000_0000, 64 * PAGE_SIZE, permissions('rwu')) },
  { name: 'demand-zero faults', run: (memory, held) => {
    for (let page = 0; page < 5; page++) memory.access(held.space!, 0x1000_0000 + page * PAGE_SIZE, 'write', 'user');
  } },
  { name: 'fork', run: (memory, held) => void (held.child = memory.fork(A, held.space!, C)) },
  { name: 'copy-on-write fault', run: (memory, held) => void memory.access(held.child!, 0x1000_0000, 'write', 'user') },
  { name: 'grant', run: (memory, held) => void (held.grant = memory.grant(A, C, held.blocks[1]!, 8 * PAGE_SIZE, 'read').id) },
  { name: 'map a granted page', run: (memory, held) => memory.map(C, held.child!, 0x5000_0000, held.blocks[1]!, permissions('ru')) },
  { name: 'free a block a mapping holds', run: (memory, held) => void memory.free(A, held.blocks[0]!) },
  { name: 'free the run', run: (memory, held) => void memory.free(B, held.run!) },
  { name: 'revoke the grant', run: (memory, held) => memory.revokeGrant(A, held.grant!) },
  { name: 'destroy the child space', run: (memory, held) => memory.destroySpace(C, held.child!) },
  { name: 'reclaim an owner', run: (memory) => void memory.reclaim(A) },
];

describe('memory server state region', () => {
  it('a crash at any word of any operation rolls back to the state before it, and the operation then gives the same result', () => {
    const ram = Ram.allocate(8 * MiB);
    const state = { base: ram.base, size: memoryStateBytes(ram.base, ram.size) };
    const first = new MemoryServer(ram, mapOf(ram, state), { state: StateRegion.format(ram, state.base, state.size) });
    first.markReady();
    const held: Held = { blocks: [] };
    let crashes = 0;
    for (const step of steps) {
      const before = ram.bytes.slice();
      const heldBefore = structuredClone(held);
      const expectedBefore = fingerprint(attach(ram, state));
      // The uncut step.
      const uncut = attach(ram, state);
      uncut.transaction(() => step.run(uncut, held));
      const expectedAfter = fingerprint(attach(ram, state));
      // Then from the same RAM, cut short before journal entry 0, 1, 2, … (every one up to 64,
      // then every ~5%) until the step gets through: it wrote that many words between commits.
      let cuts = 0;
      for (let crashAt = 0; ; crashAt += crashAt < 64 ? 1 : Math.ceil(crashAt / 20)) {
        ram.bytes.set(before);
        const victim = generation(ram, state);
        victim.region.storage.journal.crashAfter = crashAt;
        try {
          victim.memory.transaction(() => step.run(victim.memory, structuredClone(heldBefore)));
        } catch (error) {
          if (!(error instanceof SimulatedCrash)) throw error;
          cuts++;
          const survivor = attach(ram, state);
          // Reclaim commits after each grant, mapping and block: a crash keeps what it had finished.
          if (step.name !== 'reclaim an owner') expect(fingerprint(survivor), `${step.name}: crash at word ${crashAt}`).toBe(expectedBefore);
          survivor.transaction(() => step.run(survivor, structuredClone(heldBefore)));
          expect(fingerprint(attach(ram, state)), `${step.name}: run again after a crash at word ${crashAt}`).toBe(expectedAfter);
          continue;
        }
        expect(fingerprint(attach(ram, state)), `${step.name}: uncut with crashAfter ${crashAt}`).toBe(expectedAfter);
        break;
      }
      expect(cuts, `${step.name} journals at least one word`).toBeGreaterThan(0);
      crashes += cuts;
    }
    expect(crashes).toBeGreaterThan(100);
  });
});

