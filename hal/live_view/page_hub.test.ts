import { describe, expect, it } from 'vitest';
import { PageHub } from './page_hub.js';
import type { ToPage } from './protocol.js';

function hub() {
  let now = 1000;
  const toSystem: unknown[] = [];
  const pageHub = new PageHub({ minimumIntervalMs: 100, nowMs: () => now });
  pageHub.connect({ pushInput: (bytes) => void toSystem.push(JSON.parse(Buffer.from(bytes).toString())) });
  const send = (message: unknown) => pageHub.output(Buffer.from(JSON.stringify(message) + '\n'));
  const page = () => {
    const received: ToPage[] = [];
    const handle = pageHub.attach({ send: (message) => void received.push(message) });
    return { received, handle };
  };
  return { pageHub, toSystem, send, page, advance: (ms: number) => (now += ms) };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

describe('PageHub', () => {
  it('coalesces panel updates: one message with the latest of each panel', async () => {
    const { send, page } = hub();
    const { received } = page();
    for (let generation = 1; generation <= 20; generation++) send({ t: 'panels', panels: { ps: { generation } } });
    send({ t: 'panels', panels: { devices: [1] } });
    await settle();
    const panels = received.filter((message) => message.t === 'panels');
    expect(panels).toEqual([{ t: 'panels', panels: { ps: { generation: 20 }, devices: [1] } }]);
  });

  it('gives a page that connects later every panel and the recent log at once', () => {
    const { send, page } = hub();
    send({ t: 'panels', panels: { ps: [1], memory: { total: 4 } } });
    send({ t: 'log', records: [{ msg: 'a' }, { msg: 'b' }] });
    const { received } = page();
    expect(received[0]).toEqual({ t: 'state', panels: { ps: [1], memory: { total: 4 } }, log: [{ msg: 'a' }, { msg: 'b' }], system: { state: 'booting' } });
  });

  it('tells the view server how many pages look, again after each hello', () => {
    const { send, page, toSystem } = hub();
    const one = page();
    page();
    one.handle.detach();
    send({ t: 'hello', generation: 2, start: 'restart' });
    expect(toSystem).toEqual([{ t: 'watch', viewers: 1 }, { t: 'watch', viewers: 2 }, { t: 'watch', viewers: 1 }, { t: 'watch', viewers: 1 }]);
  });

  it('measures a kexec\'s downtime from its acknowledgement to the next generation\'s first panels', async () => {
    const { send, page, toSystem, advance, pageHub } = hub();
    send({ t: 'hello', generation: 1, start: 'fresh' });
    send({ t: 'panels', panels: { ps: [] } });
    const { received, handle } = page();
    handle.control({ t: 'control', id: 3, action: 'kexec' });
    const asked = toSystem.find((message) => (message as { action?: string }).action === 'kexec') as { id: number };
    send({ t: 'result', id: asked.id, ok: true, message: 'kexec: entering' });
    expect(pageHub.systemStatus).toEqual({ state: 'down', reason: 'kexec' });
    advance(250);
    pageHub.systemGoingDown('kexec');
    advance(500);
    send({ t: 'hello', generation: 1, start: 'handover' });
    send({ t: 'panels', panels: { ps: [] } });
    expect(pageHub.systemStatus).toEqual({ state: 'up', reason: 'kexec', downtimeMs: 750, generation: 1, start: 'handover' });
    await settle();
    expect(received.filter((message) => message.t === 'result')).toEqual([{ t: 'result', id: 3, ok: true, message: 'kexec: entering' }]);
    expect(received.filter((message) => message.t === 'system').at(-1)).toEqual({ t: 'system', system: pageHub.systemStatus });
  });

  it('drops lines that are not messages and keeps going', () => {
    const { pageHub, page } = hub();
    pageHub.output(Buffer.from('garbage\n{"t":"panels"}\n{"t":"panels","panels":{"ps":[2]}}\n'));
    expect(pageHub.malformedLines).toBe(2);
    expect(page().received[0]).toMatchObject({ panels: { ps: [2] } });
  });
});
