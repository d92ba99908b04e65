// Bulk data for IPC: payloads too large for a channel's ring travel by reference to RAM
// pages lent to the peer (grants), as the issue of bulk IPC asks and as seL4/Hubris leases do.
//
//   client: call frame larger than the ring → carrier.lend(frame, server) → pages it owns,
//           granted read-only to the server → BULK_CALL [6, callId, {pa, length, grant}]
//   server: carrier.fetch(reference, client) → checks the grant, copies the frame out of RAM →
//           handles it as the CALL it contains (same call id) → ordinary reply
//   client: reply (or error, or the channel closing) → release: the pages are freed, which
//           ends the grant.
//
// The carrier is the Endpoint's `bulk` option; the server runtime builds one on the memory
// service (microkernel/userlib/bulk_carrier.ts). Without one, oversized messages are refused
// with MESSAGE_TOO_LARGE.

export interface BulkReference {
  /** Physical address of the lent bytes. */
  readonly pa: number;
  readonly length: number;
  /** The grant that lets the receiver read them. */
  readonly grant: number;
}

export interface LentBytes {
  readonly reference: BulkReference;
  /** Takes the bytes back (frees the pages, ending the grant). */
  release(): Promise<void>;
}

export interface BulkCarrier {
  /** Puts `bytes` where the thread serving as `to` may read them. */
  lend(bytes: Uint8Array, to: string): Promise<LentBytes>;
  /** Reads bytes lent to this thread by `from`; rejects if they were not lent to it. */
  fetch(reference: BulkReference, from: string | undefined): Promise<Uint8Array>;
}

/** The reference in a BULK_CALL frame, or undefined if it is not one. */
export function checkBulkReference(value: unknown): BulkReference | undefined {
  const candidate = value as Partial<BulkReference> | null;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  const { pa, length, grant } = candidate;
  if (!Number.isSafeInteger(pa) || (pa as number) < 0) return undefined;
  if (!Number.isSafeInteger(length) || (length as number) <= 0) return undefined;
  if (!Number.isSafeInteger(grant) || (grant as number) < 0) return undefined;
  return { pa: pa as number, length: length as number, grant: grant as number };
}
