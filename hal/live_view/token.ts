// The live view's access token: a random secret in the page's URL. Every HTTP request and
// WebSocket must carry it (`?token=...`), so another local user, who can reach 127.0.0.1
// too, can neither read nor control the system.

import { randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, URL-safe base64 (43 characters). */
export function makeToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `given` is `token`, compared in constant time. */
export function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given), b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
