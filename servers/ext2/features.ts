// ext2 feature flags (s_feature_compat, s_feature_incompat, s_feature_ro_compat), named as
// e2fsprogs names them, and which of them this server can mount.
//
// The rules are the superblock's own: an unknown incompatible feature refuses the mount; an
// unknown read-only-compatible feature allows a read-only mount only; compatible features
// never refuse a mount.

export const COMPATIBLE = {
  dir_prealloc: 0x1, imagic_inodes: 0x2, has_journal: 0x4, ext_attr: 0x8, resize_inode: 0x10,
  dir_index: 0x20, lazy_bg: 0x40, exclude_bitmap: 0x100, sparse_super2: 0x200, fast_commit: 0x400,
  stable_inodes: 0x800, orphan_file: 0x1000,
} as const;

export const INCOMPATIBLE = {
  compression: 0x1, filetype: 0x2, needs_recovery: 0x4, journal_dev: 0x8, meta_bg: 0x10,
  extent: 0x40, '64bit': 0x80, mmp: 0x100, flex_bg: 0x200, ea_inode: 0x400, dirdata: 0x1000,
  metadata_csum_seed: 0x2000, large_dir: 0x4000, inline_data: 0x8000, encrypt: 0x10000, casefold: 0x20000,
} as const;

export const READ_ONLY_COMPATIBLE = {
  sparse_super: 0x1, large_file: 0x2, btree_dir: 0x4, huge_file: 0x8, uninit_bg: 0x10, dir_nlink: 0x20,
  extra_isize: 0x40, has_snapshot: 0x80, quota: 0x100, bigalloc: 0x200, metadata_csum: 0x400,
  replica: 0x800, read_only: 0x1000, project: 0x2000, shared_blocks: 0x4000, verity: 0x8000,
  orphan_present: 0x10000,
} as const;

/** Incompatible features this server reads and writes. */
export const SUPPORTED_INCOMPATIBLE = INCOMPATIBLE.filetype;
/**
 * Read-only-compatible features this server keeps right when it writes: sparse_super
 * (backups only in groups 0, 1 and powers of 3, 5, 7), large_file (sizes past 2 GiB use
 * i_size_high), and extra_isize and dir_nlink, which ext2's writes never violate.
 */
export const SUPPORTED_READ_ONLY_COMPATIBLE =
  READ_ONLY_COMPATIBLE.sparse_super | READ_ONLY_COMPATIBLE.large_file | READ_ONLY_COMPATIBLE.extra_isize;

/** The e2fsprogs names of the bits set in `mask`, by `table`; unknown bits as hex. */
export function featureNames(table: Readonly<Record<string, number>>, mask: number): string[] {
  const names: string[] = [];
  let rest = mask >>> 0;
  for (const [name, bit] of Object.entries(table)) {
    if (rest & bit) { names.push(name); rest = (rest & ~bit) >>> 0; }
  }
  for (let bit = 1; rest !== 0; bit = (bit << 1) >>> 0) {
    if (rest & bit) { names.push(`0x${bit.toString(16)}`); rest = (rest & ~bit) >>> 0; }
  }
  return names;
}

export type MountAccess = 'read-write' | 'read-only';

/**
 * Whether a superblock's features allow a mount with `access`; the refusal names every
 * feature in the way, as `mount` should tell the user.
 */
export function checkFeatures(incompatible: number, readOnlyCompatible: number, access: MountAccess): { ok: true } | { ok: false; reason: string } {
  const unsupportedIncompatible = (incompatible & ~SUPPORTED_INCOMPATIBLE) >>> 0;
  if (unsupportedIncompatible !== 0) {
    const names = featureNames(INCOMPATIBLE, unsupportedIncompatible).join(', ');
    return { ok: false, reason: `unsupported incompatible feature${unsupportedIncompatible & (unsupportedIncompatible - 1) ? 's' : ''}: ${names}` };
  }
  const unsupportedReadOnly = (readOnlyCompatible & ~SUPPORTED_READ_ONLY_COMPATIBLE) >>> 0;
  if (access === 'read-write' && unsupportedReadOnly !== 0) {
    const names = featureNames(READ_ONLY_COMPATIBLE, unsupportedReadOnly).join(', ');
    return { ok: false, reason: `read-only-compatible feature${unsupportedReadOnly & (unsupportedReadOnly - 1) ? 's' : ''} ${names} allow only a read-only mount` };
  }
  return { ok: true };
}
