// Types of ServerContext's notification methods: checked by the compiler, not at run time
// (`npx tsc -p tsconfig.test.json`, part of `npm run typecheck`). Each `@ts-expect-error`
// line must fail to compile: if a change lets it through, the directive itself is an error.
// The run-time path (a server's notify reaching a client's handler) is tested in
// servers/log/main.test.ts and ipc/endpoint.test.ts.
import { describe, expectTypeOf, it } from 'vitest';
import { logInterface } from '../../ipc/interfaces/log.js';
import type { NotificationContext } from '../../ipc/endpoint.js';
import type { ServerContext } from './server.js';

/** Never called: only compiled. */
function usesOfNotifications(context: ServerContext): void {
  context.onNotification(logInterface, 'record', (args, from) => {
    expectTypeOf(args.sequence).toEqualTypeOf<number>();
    expectTypeOf(args.record.msg).toEqualTypeOf<string>();
    expectTypeOf(from).toEqualTypeOf<NotificationContext>();
  });
  // @ts-expect-error the payload of log.record is { record, sequence }, not a string
  context.onNotification(logInterface, 'record', (args: string) => args.length);
  // @ts-expect-error sequence is a number
  context.onNotification(logInterface, 'record', (args: { sequence: string }) => args.sequence);
  // @ts-expect-error the log interface has no notification "recorded"
  context.onNotification(logInterface, 'recorded', () => undefined);

  const record = { time: 1, uptimeMs: 1, level: 30, server: 'test', generation: 1, msg: 'hello' };
  context.notify(1, logInterface, 'record', { record, sequence: 1 });
  // @ts-expect-error sequence is a number
  context.notify(1, logInterface, 'record', { record, sequence: 'one' });
  // @ts-expect-error the record is missing
  context.notify(1, logInterface, 'record', { sequence: 1 });
}

describe('ServerContext notification types', () => {
  it('ServerContext.onNotification and notify take the payload type the interface declares (compile-time check)', () => {
    expectTypeOf(usesOfNotifications).parameter(0).toEqualTypeOf<ServerContext>();
  });
});
