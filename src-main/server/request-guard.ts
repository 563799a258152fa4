import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { tokensEqual } from './auth';

/**
 * Two checks a token alone cannot make, because a browser attaches the cookie for whoever asks it to:
 *
 * - Host (DNS rebinding): a page on evil.example can re-point its own name at 127.0.0.1 and then talk to us as
 *   "same origin"; its requests still say `Host: evil.example`, so only names we know are answered.
 * - Origin (cross-origin writes): SameSite ignores ports, so a page served on any other 127.0.0.1 port gets the
 *   cookie sent along with its POSTs; a request that changes state must come from our own page, or carry the
 *   token itself as a Bearer header (scripts, curl), which no other page can know.
 *
 * Each check returns null when the request may go on, or the message to refuse it with.
 */

/** Names a browser on this machine uses to reach a loopback server. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

// a host name or an IPv4 literal, or a bracketed IPv6 literal, then an optional port: nothing else is a Host
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/;

/** `::1` → `[::1]`, `LocalHost` → `localhost`: the form a Host header spells a name in. */
function hostName(name: string): string {
  const lower = name.trim().toLowerCase();
  return isIP(lower) === 6 ? `[${lower}]` : lower;
}

function isIpLiteral(name: string): boolean {
  return name.startsWith('[') ? isIP(name.slice(1, -1)) === 6 : isIP(name) === 4;
}

export interface HostPolicy {
  /** The address the server listens on (`--host`). */
  listenHost: string;
  /** More names to answer to (`--allow-host`), e.g. the machine's DNS name behind a tunnel or proxy. */
  allowHosts?: readonly string[];
}

/**
 * Which Host headers are answered: the loopback names, the listen address, and `allowHosts`; when listening on
 * every interface (0.0.0.0, ::) also any IP literal, since the machine's own addresses are many and change, and
 * an IP literal cannot be rebound. The port is not compared: an `ssh -L 9000:localhost:8765` tunnel or a proxy
 * reaches us under another port, and the port gives a rebinding page nothing the name check does not stop.
 */
export function hostGuard(policy: HostPolicy): (host: string | undefined) => string | null {
  const names = new Set([...LOOPBACK_NAMES, ...(policy.allowHosts ?? []).map(hostName)]);
  const listen = hostName(policy.listenHost);
  const anyIp = WILDCARD_HOSTS.has(listen);
  if (!anyIp) names.add(listen);
  const known = [...names].join(', ') + (anyIp ? ', or any IP address' : '');
  return (host) => {
    const m = HOST_HEADER.exec((host ?? '').toLowerCase());
    const name = m?.[1];
    if (name && (names.has(name) || (anyIp && isIpLiteral(name)))) return null;
    const shown = host === undefined ? 'no Host header' : `Host ${JSON.stringify(host)}`;
    const hint = name ? `; to reach it by this name, start normlab serve with --allow-host ${name}` : '';
    return `unknown host refused (DNS rebinding guard): ${shown} is not one of ${known}${hint}`;
  };
}

/** Whether the request carries the right token as `Authorization: Bearer`, which no other web page can add. */
function hasBearerToken(req: IncomingMessage, token: string): boolean {
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') === true && tokensEqual(auth.slice('Bearer '.length).trim(), token);
}

/**
 * For a request that changes state, and for the WebSocket upgrade (which the browser does not guard by CORS):
 * an Origin must be this very page's origin, as the (already checked) Host names it. Without an Origin only a
 * Bearer token will do: browsers send Origin on every cross-origin request and on same-origin POSTs, so a
 * cookie-only write without one did not come from our page. `Sec-Fetch-Site`, where a browser sends it, must
 * agree.
 */
export function originProblem(req: IncomingMessage, token: string): string | null {
  const origin = req.headers.origin;
  const host = req.headers.host ?? '';
  const ownOrigin = `http://${host}`;
  if (origin === undefined) {
    if (!hasBearerToken(req, token)) {
      return `cross-origin request refused: a ${req.method} authenticated by the cookie must carry an Origin header (browsers send it); scripts send Authorization: Bearer <token> instead`;
    }
  } else if (!sameAuthority(origin, host)) {
    return `cross-origin request refused: Origin ${origin} is not ${ownOrigin}`;
  }
  const fetchSite = req.headers['sec-fetch-site'];
  if (typeof fetchSite === 'string' && fetchSite !== 'same-origin') {
    return `cross-origin request refused: Sec-Fetch-Site is ${fetchSite}, not same-origin`;
  }
  return null;
}

/** http or https (a TLS proxy in front): the scheme cannot make another server's page ours, the host:port does. */
function sameAuthority(origin: string, host: string): boolean {
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false; // `null` (sandboxed frames, file://) and anything malformed
  }
  if (o.protocol !== 'http:' && o.protocol !== 'https:') return false;
  if (o.origin !== origin.toLowerCase().replace(/\/$/, '')) return false;
  try {
    return new URL(`${o.protocol}//${host}`).host === o.host;
  } catch {
    return false;
  }
}
