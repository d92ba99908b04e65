// Calls too large for a ring travel as BULK_CALL frames pointing at lent bytes (bulk.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { DoorbellPage } from '../hal/doorbells.js';
import type { BulkCarrier, BulkReference } from './bulk.js';
import { createChannel } from './channel.js';
import { Endpoint } from './endpoint.js';
import { MalformedMessageError, MessageTooLargeError, PermissionDeniedError } from './errors.js';
import { encodeSend } from './wire.js';
import { echoInterface, serveEcho } from './test_fixtures/echo_interface.js';

const started: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((endpoint) => endpoint.stop()));
});

/** A carrier over a Map standing for lent RAM pages: what the memory service does, observable. */
class MapCarrier implements BulkCarrier {
  readonly lent = new Map<number, { bytes: Uint8Array; to: string }>();
  lends = 0;
  releases = 0;
  refuseFetch = false;
  replaceWith: Uint8Array | undefined;
  private nextGrant = 1;

  async lend(bytes: Uint8Array, to: string) {
    const grant = this.nextGrant++;
    this.lent.set(grant, { bytes: Uint8Array.prototype.slice.call(bytes), to });
    this.lends++;
    const reference: BulkReference = { pa: 0x8000_0000 + grant * 0x10_0000, length: bytes.length, grant };
    return { reference, release: async () => void (this.releases++, this.lent.delete(grant)) };
  }

  async fetch(reference: BulkReference, from: string | undefined) {
    const entry = this.lent.get(reference.grant);
    // A peer reads only what was lent to it, never what it lent itself.
    if (this.refuseFetch || !entry || entry.to === from) throw new PermissionDeniedError(`${from} lent nothing at grant ${reference.grant}`);
    return this.replaceWith ?? entry.bytes;
  }
}

function pair(carrier: BulkCarrier | undefined) {
  const doorbells = new DoorbellPage();
  const server = new Endpoint({ doorbells, slot: 2, name: 'server', ...(carrier ? { bulk: carrier } : {}) });
  void server;
  const client = new Endpoint({ doorbells, slot: 1, name: 'client', ...(carrier ? { bulk: carrier } : {}) });
  started.push(server, client);
  serveEcho(server, 1);
  server.start();
  client.start();
  const channel = createChannel({ id: 1, interfaceName: echoInterface.name, clientSlot: 1, serverSlot: 2, serverGeneration: 1, serverName: 'server' });
  server.attachServer(channel, 'client');
  return { echo: client.attachClient(channel).bind(echoInterface), server, channel };
}

const big = (size: number) => Uint8Array.from({ length: size }, (_, index) => index % 251);

describe('bulk calls', () => {
  it('a call larger than the ring is lent, handled as the CALL it holds, and the bytes are taken back', async () => {
    const carrier = new MapCarrier();
    const { echo } = pair(carrier);
    const data = big(300_000);
    expect(await echo.sum({ data })).toEqual({ length: 300_000, sum: data.reduce((total, byte) => total + byte, 0) });
    expect(carrier.lends).toBe(1);
    expect(carrier.releases).toBe(1);
    expect(carrier.lent.size).toBe(0);
    expect(await echo.sum({ data: new Uint8Array([1, 2]) })).toEqual({ length: 2, sum: 3 }); // small calls stay in the ring
    expect(carrier.lends).toBe(1);
  });

  it('without a carrier a call larger than the ring is refused with MESSAGE_TOO_LARGE', async () => {
    const { echo } = pair(undefined);
    await expect(echo.sum({ data: big(100_000) })).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(await echo.echo({ text: 'still serving' })).toBe('still serving');
  });

  it('bytes the server cannot read as lent to it get a permission error, and the server keeps serving', async () => {
    const carrier = new MapCarrier();
    carrier.refuseFetch = true;
    const { echo } = pair(carrier);
    await expect(echo.sum({ data: big(100_000) })).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(carrier.releases).toBe(1);
    expect(await echo.echo({ text: 'still serving' })).toBe('still serving');
  });

  it('lent bytes that do not hold the CALL of the same id are refused as malformed', async () => {
    const carrier = new MapCarrier();
    carrier.replaceWith = Uint8Array.prototype.slice.call(encodeSend(4, { line: 'smuggled' }));
    const { echo } = pair(carrier);
    await expect(echo.sum({ data: big(100_000) })).rejects.toBeInstanceOf(MalformedMessageError);
    expect(await echo.lines({})).toEqual([]);
  });

  it('a reply larger than the ring is lent back, read by the client, and taken back after its BULK_DONE', async () => {
    const carrier = new MapCarrier();
    const { echo } = pair(carrier);
    const grown = await echo.grow({ size: 200_000 });
    expect(grown).toHaveLength(200_000);
    expect(carrier.lends).toBe(1);
    expect(await echo.echo({ text: 'after' })).toBe('after'); // the BULK_DONE went before this call
    expect(carrier.releases).toBe(1);
    expect(carrier.lent.size).toBe(0);
  });

  it('without a carrier a reply larger than the ring is a MESSAGE_TOO_LARGE error', async () => {
    const { echo } = pair(undefined);
    await expect(echo.grow({ size: 200_000 })).rejects.toBeInstanceOf(MessageTooLargeError);
  });
});
