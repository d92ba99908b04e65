// The names a console argument can take, by kind, asked of the system when needed: for
// Tab completion and to tell a user which disks there are.

import type { ClientOf } from '../../ipc/define.js';
import type { driversInterface } from '../../ipc/interfaces/drivers.js';
import type { kernelInterface } from '../../ipc/interfaces/kernel.js';
import type { NameKind } from './command_syntax.js';

export interface NameServices {
  readonly kernel: ClientOf<typeof kernelInterface>;
  readonly drivers: ClientOf<typeof driversInterface>;
}

/** The disks: driver instances that serve the block interface. */
export async function diskNames(services: Pick<NameServices, 'drivers'>): Promise<string[]> {
  const rows = (await services.drivers.devices({})).rows;
  return rows.filter((row) => row.serves.includes('block') && row.driver).map((row) => row.driver!);
}

/** The current names of one kind, in the system's order; `commands` are the console's own. */
export async function listNames(kind: NameKind, services: NameServices, commands: readonly string[]): Promise<string[]> {
  switch (kind) {
    case 'command':
      return [...commands];
    case 'program':
      return (await services.kernel.list({})).rows.map((row) => row.name);
    case 'driver':
      return (await services.drivers.drivers({})).rows.flatMap((row) => [row.name, ...row.instances.filter((instance) => instance !== row.name)]);
    case 'disk':
      return diskNames(services);
  }
}
