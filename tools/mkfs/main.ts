// `npm run mkfs -- IMAGE SIZE [--from DIR] [--block-size N] [--label L]`: a new ext2 image
// on the host, as `mke2fs -t ext2 [-d DIR]` makes one, that e2fsck -fn passes and debugfs
// lists. With --from, the folder's files are copied in. On a terminal, a progress bar shows
// the formatting of a large image and the copying of a large folder (progress_bar.ts).

import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, openSync, statSync } from 'node:fs';
import { Ext2Error } from '../../servers/ext2/errors.js';
import { Ext2Filesystem } from '../../servers/ext2/filesystem.js';
import { formatFilesystem } from '../../servers/ext2/format.js';
import { ImageFileStore } from './image_file_store.js';
import { folderBytes, populate } from './populate.js';
import { progressBar } from './progress_bar.js';

/** Images from this size on get a formatting bar on a terminal (writing their inode tables takes a while). */
const FORMAT_BAR_BYTES = 256 * 1024 * 1024;
/** Folders with this much file data get a copying bar on a terminal. */
const COPY_BAR_BYTES = 16 * 1024 * 1024;

const USAGE = 'usage: npm run mkfs -- IMAGE SIZE [--from DIR] [--block-size 1024|2048|4096] [--label LABEL]\n  SIZE: bytes, or with K, M or G (e.g. 64M)';

interface MkfsOptions {
  image: string;
  bytes: number;
  from?: string;
  blockBytes?: number;
  label?: string;
}

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let options: MkfsOptions;
  try {
    options = parseArguments(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`mkfs: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const descriptor = openSync(options.image, existsSync(options.image) ? 'r+' : 'w+', 0o644);
  try {
    ftruncateSync(descriptor, options.bytes);
  } finally {
    closeSync(descriptor);
  }
  const store = new ImageFileStore(options.image);
  try {
    let formatting: ((done: number, finished?: boolean) => void) | undefined;
    const geometry = await formatFilesystem(store, {
      onProgress: (done, total) => {
        formatting ??= options.bytes >= FORMAT_BAR_BYTES ? progressBar(process.stderr, 'formatting', total) : () => undefined;
        formatting(done, done === total);
      },
      uuid: randomBytes(16),
      now: Math.floor(Date.now() / 1000),
      ...(options.blockBytes ? { blockBytes: options.blockBytes } : {}),
      ...(options.label ? { label: options.label } : {}),
    });
    if (options.from) {
      const filesystem = await Ext2Filesystem.mount(store, { access: 'read-write', recordMount: false });
      const total = folderBytes(options.from);
      const bar = progressBar(process.stderr, 'copying', total, COPY_BAR_BYTES);
      await populate(filesystem, filesystem.rootInode, options.from, {
        onBytes: bar,
        onSkipped: (path, why) => process.stderr.write(`mkfs: skipped ${path}: ${why}\n`),
      });
      bar(total, true);
      await filesystem.unmount();
    }
    process.stdout.write(`${options.image}: ext2, ${geometry.blocksCount} blocks of ${geometry.blockBytes} bytes, ${geometry.inodesPerGroup * geometry.groupCount} inodes, ${geometry.groupCount} group${geometry.groupCount === 1 ? '' : 's'}${options.label ? `, label "${options.label}"` : ''}\n`);
    return 0;
  } catch (error) {
    if (error instanceof Ext2Error) {
      process.stderr.write(`mkfs: ${options.image}: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    store.close();
  }
}

function parseArguments(argv: string[]): MkfsOptions {
  const positional: string[] = [];
  const options: Partial<MkfsOptions> = {};
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    const value = () => {
      const next = argv[++index];
      if (next === undefined) throw new UsageError(`${argument} needs a value`);
      return next;
    };
    if (argument === '--from') options.from = value();
    else if (argument === '--label') options.label = value();
    else if (argument === '--block-size') {
      const text = value();
      const blockBytes = Number(text);
      if (![1024, 2048, 4096].includes(blockBytes)) throw new UsageError(`--block-size ${text}: use 1024, 2048 or 4096`);
      options.blockBytes = blockBytes;
    } else if (argument.startsWith('--')) throw new UsageError(`unknown option ${argument}`);
    else positional.push(argument);
  }
  if (positional.length !== 2) throw new UsageError(positional.length < 2 ? 'IMAGE and SIZE are needed' : `unexpected ${positional.slice(2).join(' ')}`);
  const [image, sizeText] = positional as [string, string];
  const match = /^(\d+)([KMG]?)$/i.exec(sizeText);
  if (!match) throw new UsageError(`${sizeText} is not a size (e.g. 64M)`);
  const bytes = Number(match[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  if (bytes % 1024 !== 0) throw new UsageError(`${sizeText} is not a whole number of KiB`);
  if (options.from) {
    if (!existsSync(options.from) || !statSync(options.from).isDirectory()) throw new UsageError(`--from ${options.from}: not a folder`);
  }
  if (existsSync(image) && !statSync(image).isFile()) throw new UsageError(`${image}: not a regular file`);
  return { ...options, image, bytes };
}
