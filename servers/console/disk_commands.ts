// Console commands for what disks hold: mkfs.
//
// mkfs writes a new ext2 filesystem on a disk through the disk's block service, with the
// same layout code the host's `npm run mkfs` uses (servers/ext2/format.ts), its UUID from
// the entropy device. A disk an ext2 server serves is refused (stop it first): formatting
// under a mounted filesystem would leave that server's cache describing a disk that is no
// more. Once made, the disk gets its ext2 server, as a disk holding ext2 does at boot.

import type { ClientOf } from '../../ipc/define.js';
import type { blockInterface } from '../../ipc/interfaces/block.js';
import { BlockServiceStore } from '../ext2/block_service_store.js';
import { Ext2Error } from '../ext2/errors.js';
import { formatFilesystem } from '../ext2/format.js';
import type { Parameter } from './command_syntax.js';
import type { Command } from './commands.js';
import type { DriverCommandServices } from './driver_commands.js';

/** Bytes a volume label holds (s_volume_name). */
const LABEL_BYTES = 16;
/** States in which a per-disk server holds its disk. */
const HOLDING = new Set(['starting', 'running', 'restarting', 'stopping']);
/** Formatting a large disk takes a while: allow for it. */
const FORMAT_TIMEOUT_MS = 300_000;

export class DiskCommandError extends Error {}

const DISK: Parameter = { name: 'DISK', kind: 'disk' };
const LABEL: Parameter = { name: 'LABEL', kind: 'text', flag: '-L', describe: `the volume label (at most ${LABEL_BYTES} bytes)` };
const BLOCK_BYTES: Parameter = { name: 'BYTES', kind: 'integer', flag: '-b', minimum: 1024, maximum: 4096, describe: 'the block size: 1024, 2048 or 4096 (default: by size, as mke2fs chooses)' };

/** One store per disk, so repeated mkfs reuse its DMA buffer. */
const stores = new Map<string, Promise<BlockServiceStore>>();

function storeFor(name: string, disk: ClientOf<typeof blockInterface>, services: DriverCommandServices): Promise<BlockServiceStore> {
  let store = stores.get(name);
  if (!store) {
    store = BlockServiceStore.open(disk, services.ram, (bytes) => services.allocateDma(bytes));
    stores.set(name, store);
    store.catch(() => stores.delete(name));
  }
  return store;
}

export const diskCommands: Record<string, Command<DriverCommandServices>> = {
  mkfs: {
    forms: [{ parameters: [DISK, LABEL, BLOCK_BYTES] }],
    summary: 'make an empty ext2 filesystem on DISK, as mke2fs -t ext2 does, and start its ext2 server (refused while one serves DISK)',
    run: async (args, services) => {
      const name = args.word('DISK');
      const label = args.optionalWord('LABEL');
      const blockBytes = args.optionalInteger('BYTES');
      if (label !== undefined && new TextEncoder().encode(label).length > LABEL_BYTES) throw new DiskCommandError(`mkfs: the label "${label}" is longer than ${LABEL_BYTES} bytes`);
      if (blockBytes !== undefined && ![1024, 2048, 4096].includes(blockBytes)) throw new DiskCommandError(`mkfs: a block size is 1024, 2048 or 4096, not ${blockBytes}`);
      const serving = (await services.drivers.diskServers({})).rows.find((row) => row.disk === name && HOLDING.has(row.state));
      if (serving) throw new DiskCommandError(`mkfs: ${name} is mounted: ${serving.name} serves it (${serving.state}); stop ${serving.name} first`);
      const disk = services.disk(name);
      if ((await disk.info({})).readOnly) throw new DiskCommandError(`mkfs: ${name} is read-only`);
      const store = await storeFor(name, disk, services);
      const { data: uuid } = await services.random.read({ bytes: 16 });
      let geometry;
      try {
        geometry = await formatFilesystem(store, {
          uuid, now: Math.floor(Date.now() / 1000),
          ...(label !== undefined ? { label } : {}),
          ...(blockBytes !== undefined ? { blockBytes } : {}),
        });
      } catch (error) {
        if (error instanceof Ext2Error) throw new DiskCommandError(`mkfs: ${name}: ${error.message}`);
        throw error;
      }
      const made = `${name}: ext2, ${geometry.blocksCount} blocks of ${geometry.blockBytes} bytes, ${geometry.inodesPerGroup * geometry.groupCount} inodes, ` +
        `${geometry.groupCount} group${geometry.groupCount === 1 ? '' : 's'}${label ? `, label "${label}"` : ''}`;
      const started = await services.drivers.startDiskServer({ disk: name, server: 'ext2' }, { timeoutMs: FORMAT_TIMEOUT_MS });
      return { output: `${made}\n${started.message}` };
    },
  },
};
