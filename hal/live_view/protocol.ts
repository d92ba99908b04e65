// What travels on the live view's links, as JSON, one message per line on the view console
// (the serial line between the view server inside the system and the board) and one per
// WebSocket frame between the board and a page:
//
//   view server → board   hello, panels, log, result
//   board → view server   watch (how many pages look), control (a button pressed)
//   board → page          state (everything, on connect), panels, log, result, system
//   page → board          control
//
// A panel is replaced whole when it changes (`panels` carries only the changed ones); the
// board keeps the latest of each, so a page that connects gets them all at once.

/** What a page's buttons may ask; `name` is a server or driver for all but kexec. */
export const CONTROL_ACTIONS = ['restart', 'kill', 'stop', 'start', 'kexec'] as const;
export type ControlAction = typeof CONTROL_ACTIONS[number];

export interface ControlRequest {
  readonly t: 'control';
  readonly id: number;
  readonly action: ControlAction;
  readonly name?: string;
}

export type FromSystem =
  | { readonly t: 'hello'; readonly generation: number; readonly start: string }
  | { readonly t: 'panels'; readonly panels: Readonly<Record<string, unknown>> }
  | { readonly t: 'log'; readonly records: readonly unknown[] }
  | { readonly t: 'result'; readonly id: number; readonly ok: boolean; readonly message: string };

export type ToSystem =
  | { readonly t: 'watch'; readonly viewers: number }
  | ControlRequest;

/** The system as the board sees it: up (a view server generation answers), or down since a kexec or reset. */
export interface SystemStatus {
  readonly state: 'booting' | 'up' | 'down';
  /** Why it went down, or what it came back from. */
  readonly reason?: 'kexec' | 'reboot';
  /** From the moment it went down (a kexec acknowledged, the board's reset or kexec) to the first panels after. */
  readonly downtimeMs?: number;
  /** The view server's generation and start kind, once up. */
  readonly generation?: number;
  readonly start?: string;
}

export type ToPage =
  | { readonly t: 'state'; readonly panels: Readonly<Record<string, unknown>>; readonly log: readonly unknown[]; readonly system: SystemStatus }
  | { readonly t: 'panels'; readonly panels: Readonly<Record<string, unknown>> }
  | { readonly t: 'log'; readonly records: readonly unknown[] }
  | { readonly t: 'result'; readonly id: number; readonly ok: boolean; readonly message: string }
  | { readonly t: 'system'; readonly system: SystemStatus };

/** A page's message, checked: a control request, or why not. */
export function parseControl(text: string): ControlRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'not an object';
  const { t, id, action, name } = value as Record<string, unknown>;
  if (t !== 'control') return `unknown message type ${JSON.stringify(t)}`;
  if (!Number.isSafeInteger(id)) return 'id must be an integer';
  if (!CONTROL_ACTIONS.includes(action as ControlAction)) return `action must be one of ${CONTROL_ACTIONS.join(', ')}`;
  if (action !== 'kexec' && (typeof name !== 'string' || name.length === 0 || name.length > 128)) return `${action as string} needs a name`;
  return { t: 'control', id: id as number, action: action as ControlAction, ...(action !== 'kexec' ? { name: name as string } : {}) };
}

/** A line from the view server, checked for its shape; undefined when it is not one. */
export function parseFromSystem(text: string): FromSystem | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const message = value as Record<string, unknown>;
  switch (message.t) {
    case 'hello': return Number.isSafeInteger(message.generation) && typeof message.start === 'string' ? message as FromSystem : undefined;
    case 'panels': return typeof message.panels === 'object' && message.panels !== null ? message as FromSystem : undefined;
    case 'log': return Array.isArray(message.records) ? message as FromSystem : undefined;
    case 'result': return Number.isSafeInteger(message.id) && typeof message.ok === 'boolean' && typeof message.message === 'string' ? message as FromSystem : undefined;
    default: return undefined;
  }
}
