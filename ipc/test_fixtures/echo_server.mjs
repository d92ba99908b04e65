// Worker fixture: an Endpoint serving test.echo from the compiled build.
//
// workerData: { doorbells: SharedArrayBuffer, slot: number, generation: number }
// messages in:  { type: 'attach', channel, clientName } | { type: 'stop' }
// messages out: { type: 'ready' } | { type: 'attached', id } | { type: 'stopped', stats }
import { parentPort, workerData } from 'node:worker_threads';
import { DoorbellPage } from '../../build/hal/doorbells.js';
import { Endpoint } from '../../build/ipc/endpoint.js';
import { serveEcho } from '../../build/ipc/test_fixtures/echo_interface.js';

const { doorbells, slot, generation } = workerData;
const endpoint = new Endpoint({
  doorbells: new DoorbellPage(doorbells),
  slot,
  name: `echo-${generation}`,
  onFault: () => {}, // deliberate handler bugs are part of the tests
});
serveEcho(endpoint, generation);
endpoint.start();

parentPort.on('message', (message) => {
  if (message.type === 'attach') {
    endpoint.attachServer(message.channel, message.clientName);
    parentPort.postMessage({ type: 'attached', id: message.channel.id });
  } else if (message.type === 'stop') {
    endpoint.stop().then(() => {
      parentPort.postMessage({ type: 'stopped', stats: { ...endpoint.stats } });
      parentPort.close();
    });
  }
});
parentPort.postMessage({ type: 'ready' });
