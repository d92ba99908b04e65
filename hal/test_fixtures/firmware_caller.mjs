// Test fixture: the kernel's side of the firmware (FirmwareCalls, compiled) in a worker.
// Sends the host request it is given to be answered later, reports 'sent' as soon as the
// register write has returned, answers pings while it waits (so the test sees this thread
// is not blocked), then reports the answer.
import { parentPort, workerData } from 'node:worker_threads';
import { FirmwareCalls } from '../../build/hal/firmware.js';
import { Ram } from '../../build/hal/ram.js';

const { firmware, ram: ramDescriptor, buffer, capacity, requests } = workerData;
const calls = new FirmwareCalls(firmware, Ram.attach(ramDescriptor));
parentPort.on('message', (message) => {
  if (message === 'ping') parentPort.postMessage({ type: 'pong' });
});
const answers = requests.map((request, index) => calls.hostRequestLater(buffer + index * capacity, capacity, request));
parentPort.postMessage({ type: 'sent' });
for (const [index, answer] of answers.entries()) parentPort.postMessage({ type: 'answer', index, answer: await answer });
