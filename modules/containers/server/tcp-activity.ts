import { readFile } from 'node:fs/promises';

/**
 * Activity without a log line per request (issue 16), from the kernel's socket tables, read once per
 * idle sweep: nothing is written per request.
 * - An established loopback connection to a service's published port is a request in flight, an
 *   open WebSocket, or a kept-alive upstream connection of Caddy's (closed after its keep-alive idle
 *   timeout, which our routes set a little longer than one sweep).
 * - A connection that was not there at the previous sweep, in any state (a closed one stays in
 *   TIME_WAIT for a minute), is a request since then, also from servers that close every connection.
 */
const LOOPBACK = new Set(['0100007F', '00000000000000000000000001000000', '0000000000000000FFFF00000100007F']);
const ESTABLISHED = '01';
const LISTEN = '0A';

export interface PortConnections {
  established: boolean;
  /** Every connection of the port now (local/remote address pairs), to tell new ones at the next sweep. */
  keys: Set<string>;
}

/** Connections of the given loopback ports now. Null when the tables cannot be read (not Linux). */
export async function loopbackConnections(ports: ReadonlySet<number>, files: readonly string[] = ['/proc/net/tcp', '/proc/net/tcp6']): Promise<Map<number, PortConnections> | null> {
  const out = new Map<number, PortConnections>();
  if (!ports.size) return out;
  let readable = false;
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'latin1');
    } catch {
      continue;
    }
    readable = true;
    parseSocketTable(text, ports, out);
  }
  return readable ? out : null;
}

/** Adds the loopback connections of `ports` in one /proc/net/tcp{,6} table to `into`. */
export function parseSocketTable(text: string, ports: ReadonlySet<number>, into: Map<number, PortConnections>): Map<number, PortConnections> {
  let start = text.indexOf('\n') + 1; // header line
  while (start > 0 && start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const f = text.slice(start, end).trim().split(/\s+/);
    start = end + 1;
    if (f.length < 4 || f[3] === LISTEN) continue;
    const local = f[1]!;
    const remote = f[2]!;
    for (const addr of [local, remote]) {
      const colon = addr.lastIndexOf(':');
      if (colon < 0 || !LOOPBACK.has(addr.slice(0, colon))) continue;
      const port = parseInt(addr.slice(colon + 1), 16);
      if (!ports.has(port)) continue;
      let c = into.get(port);
      if (!c) into.set(port, (c = { established: false, keys: new Set() }));
      if (f[3] === ESTABLISHED) c.established = true;
      c.keys.add(local < remote ? `${local}-${remote}` : `${remote}-${local}`);
    }
  }
  return into;
}
