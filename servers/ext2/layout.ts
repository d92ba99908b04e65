// ext2's on-disk structures, revision 1, as Linux's fs/ext2/ext2.h and e2fsprogs'
// lib/ext2fs/ext2_fs.h declare them: every field once, by byte offset, little-endian.
//
// The superblock lives at byte 1024 of the device whatever the block size; the group
// descriptor table starts in the block after the one holding the superblock; each group
// has a block bitmap, an inode bitmap and an inode table wherever its descriptor says.

import { Layout, u8, u16, u32 } from '../../hal/virtio/layout.js';

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_BYTES = 1024;
export const EXT2_MAGIC = 0xef53;
export const GROUP_DESCRIPTOR_BYTES = 32;
export const ROOT_INODE = 2;
/** Inode numbers below this are reserved (revision 0); revision 1 says it in s_first_ino. */
export const GOOD_OLD_FIRST_INODE = 11;
export const GOOD_OLD_INODE_BYTES = 128;
/** The extra inode space Linux's mke2fs reserves in 256-byte inodes (s_min_extra_isize). */
export const EXTRA_INODE_BYTES = 32;

/** s_state */
export const STATE_VALID = 1;
export const STATE_ERRORS = 2;

export const superblockLayout = new Layout(SUPERBLOCK_BYTES, {
  inodesCount: u32(0),
  blocksCount: u32(4),
  reservedBlocksCount: u32(8),
  freeBlocksCount: u32(12),
  freeInodesCount: u32(16),
  firstDataBlock: u32(20),
  logBlockSize: u32(24),
  logFragmentSize: u32(28),
  blocksPerGroup: u32(32),
  fragmentsPerGroup: u32(36),
  inodesPerGroup: u32(40),
  mountTime: u32(44),
  writeTime: u32(48),
  mountCount: u16(52),
  maximumMountCount: u16(54),
  magic: u16(56),
  state: u16(58),
  errors: u16(60),
  minorRevision: u16(62),
  lastCheck: u32(64),
  checkInterval: u32(68),
  creatorOs: u32(72),
  revision: u32(76),
  defaultReservedUid: u16(80),
  defaultReservedGid: u16(82),
  firstInode: u32(84),
  inodeBytes: u16(88),
  blockGroupNumber: u16(90),
  featureCompatible: u32(92),
  featureIncompatible: u32(96),
  featureReadOnlyCompatible: u32(100),
  // uuid: 16 bytes at 104; volume name: 16 bytes at 120; last mounted: 64 bytes at 136
  algorithmUsageBitmap: u32(200),
  preallocateBlocks: u8(204),
  preallocateDirectoryBlocks: u8(205),
  reservedGdtBlocks: u16(206),
  // journal uuid: 16 bytes at 208
  journalInode: u32(224),
  journalDevice: u32(228),
  lastOrphan: u32(232),
  // hash seed: 16 bytes at 236
  defaultHashVersion: u8(252),
  descriptorBytes: u16(254),
  defaultMountOptions: u32(256),
  firstMetaBlockGroup: u32(260),
  makeFilesystemTime: u32(264),
  minimumExtraInodeBytes: u16(348),
  wantedExtraInodeBytes: u16(350),
  flags: u32(352),
});

/** Byte ranges of the superblock's non-integer fields. */
export const SUPERBLOCK_UUID = { offset: 104, length: 16 } as const;
export const SUPERBLOCK_VOLUME_NAME = { offset: 120, length: 16 } as const;
export const SUPERBLOCK_LAST_MOUNTED = { offset: 136, length: 64 } as const;
export const SUPERBLOCK_HASH_SEED = { offset: 236, length: 16 } as const;

export const groupDescriptorLayout = new Layout(GROUP_DESCRIPTOR_BYTES, {
  blockBitmap: u32(0),
  inodeBitmap: u32(4),
  inodeTable: u32(8),
  freeBlocksCount: u16(12),
  freeInodesCount: u16(14),
  usedDirectoriesCount: u16(16),
  flags: u16(18),
  unusedInodes: u16(28),
  checksum: u16(30),
});

/** The first 128 bytes of an inode, and the extra fields of larger inodes. */
export const inodeLayout = new Layout(GOOD_OLD_INODE_BYTES + EXTRA_INODE_BYTES, {
  mode: u16(0),
  uid: u16(2),
  size: u32(4),
  accessTime: u32(8),
  changeTime: u32(12),
  modifyTime: u32(16),
  deleteTime: u32(20),
  gid: u16(24),
  linksCount: u16(26),
  sectors: u32(28),
  flags: u32(32),
  // i_block[15]: 60 bytes at 40
  generation: u32(100),
  fileAcl: u32(104),
  sizeHigh: u32(108),
  sectorsHigh: u16(116),
  fileAclHigh: u16(118),
  uidHigh: u16(120),
  gidHigh: u16(122),
  extraBytes: u16(128),
});
export const INODE_BLOCK_POINTERS = { offset: 40, count: 15 } as const;
/** i_block[0..11] are direct; 12 single, 13 double, 14 triple indirect. */
export const DIRECT_BLOCKS = 12;

/** i_flags */
export const INODE_FLAG_INDEX = 0x1000;

/** i_mode: the file type in the top four bits, permissions below. */
export const MODE_TYPE_MASK = 0o170000;
export const MODE_SOCKET = 0o140000;
export const MODE_SYMLINK = 0o120000;
export const MODE_REGULAR = 0o100000;
export const MODE_BLOCK_DEVICE = 0o060000;
export const MODE_DIRECTORY = 0o040000;
export const MODE_CHARACTER_DEVICE = 0o020000;
export const MODE_FIFO = 0o010000;

/** Directory entry header: inode, record length, name length, file type; the name follows. */
export const directoryEntryLayout = new Layout(8, {
  inode: u32(0),
  recordLength: u16(4),
  nameLength: u8(6),
  fileType: u8(7),
});
export const DIRECTORY_ENTRY_HEADER_BYTES = 8;
export const MAXIMUM_NAME_BYTES = 255;

/** Directory entry file types (the filetype feature). */
export const FILE_TYPE = {
  unknown: 0, regular: 1, directory: 2, characterDevice: 3, blockDevice: 4, fifo: 5, socket: 6, symlink: 7,
} as const;

/** The i_mode file type of each directory-entry file type. */
export function fileTypeOfMode(mode: number): number {
  switch (mode & MODE_TYPE_MASK) {
    case MODE_REGULAR: return FILE_TYPE.regular;
    case MODE_DIRECTORY: return FILE_TYPE.directory;
    case MODE_CHARACTER_DEVICE: return FILE_TYPE.characterDevice;
    case MODE_BLOCK_DEVICE: return FILE_TYPE.blockDevice;
    case MODE_FIFO: return FILE_TYPE.fifo;
    case MODE_SOCKET: return FILE_TYPE.socket;
    case MODE_SYMLINK: return FILE_TYPE.symlink;
    default: return FILE_TYPE.unknown;
  }
}

/** Extended-attribute block header (h_magic, h_refcount): enough to free one when its inode goes. */
export const XATTR_BLOCK_MAGIC = 0xea020000;
export const xattrHeaderLayout = new Layout(32, { magic: u32(0), referenceCount: u32(4), blocks: u32(8) });
