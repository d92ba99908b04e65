// The process server's view of the memory server: the loader's LoaderMemory and a process's
// UserMemory over memoryInterface calls, with guest RAM for the bytes. User pointers are
// translated as the hart would (user mode, the access's permission), the pager run once
// (resolve: demand-zero, copy-on-write), and a refusal is UserFaultError (the call's -EFAULT).

import type { Ram } from '../../hal/ram.js';
import type { ClientOf } from '../../ipc/define.js';
import type { memoryInterface } from '../../ipc/interfaces/memory.js';
import type { LoaderMemory } from './loader.js';
import { UserFaultError, type UserMemory } from './system_calls.js';

const PAGE = 4096;
type MemoryClient = ClientOf<typeof memoryInterface>;

/** LoaderMemory through the memory server; `roots` records each new space's root table (for satp). */
export function loaderMemory(memory: MemoryClient, ram: Ram, roots: Map<number, number> = new Map()): LoaderMemory & { readonly roots: Map<number, number> } {
  return {
    roots,
    createSpace: async () => {
      const { space, root } = await memory.createSpace({});
      roots.set(space, root);
      return space;
    },
    destroySpace: async (space) => {
      roots.delete(space);
      await memory.destroySpace({ space });
    },
    allocatePage: async () => (await memory.allocate({ order: 0, zeroed: true })).pa,
    map: async (space, va, pa, permissions) => { await memory.map({ space, va, pa, permissions }); },
    protect: async (space, va, permissions) => { await memory.protect({ space, va, permissions }); },
    reserveRegion: async (space, va, length, permissions) => { await memory.reserveRegion({ space, va, length, permissions }); },
    write: (pa, bytes) => ram.write(pa, bytes),
  };
}

/** A process's memory in `space`, page piece by page piece. */
export function userMemory(memory: MemoryClient, ram: Ram, space: number): UserMemory {
  const physical = async (va: number, access: 'read' | 'write') => {
    const { pa } = await memory.translate({ space, va, access, resolve: true });
    if (pa === undefined) throw new UserFaultError(va);
    return pa;
  };
  const pieces = async (address: number, length: number, each: (pa: number, done: number, chunk: number) => void, access: 'read' | 'write') => {
    if (address + length > 2 ** 32) throw new UserFaultError(address);
    for (let done = 0; done < length;) {
      const va = address + done, chunk = Math.min(length - done, PAGE - (va % PAGE));
      each(await physical(va, access), done, chunk);
      done += chunk;
    }
  };
  return {
    read: async (address, length) => {
      const out = new Uint8Array(length);
      await pieces(address, length, (pa, done, chunk) => out.set(ram.read(pa, chunk), done), 'read');
      return out;
    },
    write: async (address, bytes) => {
      await pieces(address, bytes.length, (pa, done, chunk) => ram.write(pa, bytes.subarray(done, done + chunk)), 'write');
    },
  };
}
