import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Name of the cookie the page gets when opened with `?token=`; later fetches and the WebSocket carry it. */
export const TOKEN_COOKIE = 'normlab_token';

/** 192 bits, like Jupyter's token: long enough that guessing is not an attack. */
export function newToken(): string {
  return randomBytes(24).toString('hex');
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    try {
      cookies.set(name, decodeURIComponent(value));
    } catch {
      cookies.set(name, value);
    }
  }
  return cookies;
}

/** The token a request presents: an `Authorization: Bearer` header, or the cookie set by the landing page. */
export function presentedToken(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  return parseCookies(req.headers.cookie).get(TOKEN_COOKIE) ?? null;
}

export function tokensEqual(given: string | null, expected: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  // timingSafeEqual throws on different lengths; the length itself is not secret
  return a.length === b.length && timingSafeEqual(a, b);
}

export function isAuthorized(req: IncomingMessage, token: string): boolean {
  return tokensEqual(presentedToken(req), token);
}

export function tokenCookie(token: string): string {
  // HttpOnly: page scripts never see the token; SameSite=Strict: other sites cannot ride on it
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
}
