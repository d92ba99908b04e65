// The console server: the system's monitor, on the board's console and on the control
// socket's console (what `npm run ctl` talks to).
//
// Each terminal (terminal.ts) runs commands.ts through a line discipline; what it read and
// has not run yet is kept across the console's restarts and kexec (kept_input.ts). Warnings and
// worse from the log service are printed above the main console's prompt while the
// system runs (everything with the `verbose` boot argument; log_view.ts).

import { blockInterface } from '../../ipc/interfaces/block.js';
import { chardevInterface } from '../../ipc/interfaces/chardev.js';
import { driversInterface } from '../../ipc/interfaces/drivers.js';
import { kernelInterface } from '../../ipc/interfaces/kernel.js';
import { logInterface } from '../../ipc/interfaces/log.js';
import { randomInterface } from '../../ipc/interfaces/random.js';
import { netInterface } from '../../ipc/interfaces/net.js';
import { socketInterface } from '../../ipc/interfaces/socket.js';
import { defineServer } from '../../microkernel/userlib/server.js';
import { Terminal, type TerminalOptions } from './terminal.js';
import { openHistory } from './history.js';
import { openKeptInputs } from './kept_input.js';
import { guardTerminals } from './lifeline.js';
import { khoInterface } from '../../ipc/interfaces/kho.js';
import { fsInterface } from '../../ipc/interfaces/fs.js';
import { followLog } from './log_view.js';
import { Type } from '../../ipc/typebox.js';

/** The console's config (its manifest.json): the terminals it runs, the first being the main console. */
const consoleConfig = Type.Object({
  terminals: Type.Array(Type.Object({
    /** The chardev instance, e.g. "virtio-console.0". */
    device: Type.String({ minLength: 1 }),
    /** Echo typed characters (a person's terminal, not the control socket). */
    echo: Type.Boolean(),
    /** End of input here shuts the system down. */
    endOfInputShutsDown: Type.Boolean(),
    /** A way into the system that stop and unload must not cut off as the last one (not the live view's terminal: no page may be open). */
    lifeline: Type.Boolean({ default: true }),
  }, { additionalProperties: false }), { default: [] }),
}, { additionalProperties: false });

/** This generation's terminals, by device name. */
const terminals = new Map<string, Terminal>();

export default defineServer({
  config: consoleConfig,
  async init(context) {
    const kernel = context.connect(kernelInterface);
    const log = context.connect(logInterface);
    const kho = context.connect(khoInterface);
    const configured: readonly (TerminalOptions & { readonly lifeline: boolean })[] = context.config.terminals;
    // stop and unload refuse what would leave no terminal (lifeline.ts).
    const guarded = guardTerminals(kernel, context.connect(driversInterface), context.name, configured.filter((options) => options.lifeline).map((options) => options.device));
    const services = {
      kernel: guarded.kernel,
      log,
      drivers: guarded.drivers,
      random: context.connect(randomInterface),
      fs: context.connect(fsInterface),
      net: context.connect(netInterface),
      sockets: context.connect(socketInterface, 'net'),
      disk: (name: string) => context.connect(blockInterface, name),
      allocateDma: (bytes: number) => context.allocateDma(bytes),
      ram: context.ram,
      history: await openHistory(kho, context.ram, context.start),
    };
    const keptInputs = await openKeptInputs(kho, context.ram, context.start);
    for (const options of configured) {
      const device = context.connect(chardevInterface, options.device);
      const terminal = new Terminal(options, device, services, keptInputs.for(options.device), context.log);
      terminals.set(options.device, terminal);
    }
    const main = configured[0] ? terminals.get(configured[0].device) : undefined;


    for (const terminal of terminals.values()) {
      terminal.onFinal = () => context.log.info('the system is going down');
      terminal.open();
    }
    await followLog(context, log, (line) => void main?.printAbove(line));

    // The prompt appears once the whole system is up: each boot, and after a restart.
    void kernel.waitForBoot({}).then(async () => {
      for (const terminal of terminals.values()) await terminal.prompt();
    });
  },

  stop() {
    // What the terminals read and did not run stays kept for the next generation.
    for (const terminal of terminals.values()) terminal.close();
  },
});
