// The hart thread (see hart_thread.ts): one Hart on the board's RAM and timer, its state in
// the shared slot; serves the control block's requests one at a time, parked in between.

import { currentThread } from '../cpu.js';
import { Ram } from '../ram.js';
import { MachineTimer } from '../timer.js';
import { Hart } from './hart.js';
import { Command, Control, TRAP_KINDS, type HartThreadData } from './hart_thread.js';
import { HartState } from './state.js';

const data = currentThread().data as HartThreadData;
const control = new Int32Array(data.control);
const hart = new Hart(Ram.attach(data.ram), {
  hartId: data.hartId, state: new HartState(data.state), interrupts: MachineTimer.attach(data.timer), mode: data.mode,
});

for (;;) {
  const done = Atomics.load(control, Control.Done);
  while (Atomics.load(control, Control.Request) === done) {
    Atomics.store(control, Control.Parked, 1);
    Atomics.wait(control, Control.Request, done);
  }
  Atomics.store(control, Control.Parked, 0);
  const request = Atomics.load(control, Control.Request);
  const command = control[Control.Command], first = control[Control.First]!, second = control[Control.Second]!;
  if (command === Command.Run) {
    const trap = hart.run(control[Control.Budget]!);
    control[Control.TrapKind] = TRAP_KINDS.indexOf(trap.kind);
    control[Control.Cause] = trap.cause;
    control[Control.Tval] = trap.tval | 0;
    control[Control.Epc] = trap.epc | 0;
    control[Control.RetiredLow] = trap.retired % 2 ** 32 | 0;
    control[Control.RetiredHigh] = Math.floor(trap.retired / 2 ** 32);
  } else if (command === Command.Fence) {
    const given = control[Control.Budget]!;
    hart.fenceTranslations(given & 1 ? first >>> 0 : undefined, given & 2 ? second : undefined);
  } else if (command === Command.InvalidateCode) {
    hart.code.invalidateRange(first >>> 0, second >>> 0);
  }
  Atomics.store(control, Control.Done, request);
  Atomics.notify(control, Control.Done);
  if (command === Command.Stop) break;
}
currentThread().close();
