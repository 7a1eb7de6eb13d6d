import net from 'node:net';
import type { DockerClient } from './docker.client.js';

/** Label on a service's HTTP container: the loopback host port it is published on for good. */
export const LABEL_HTTP_PORT = 'slipway.http-port';

/** `from-to` (inclusive), or null for Docker's random ports (every wake then switches Caddy by a reload). */
export type PortRange = { from: number; to: number } | null;

/**
 * Hands out the fixed loopback port of each service's HTTP container. A fixed port lets Caddy keep
 * one route (container first, activator behind it) through every wake and sleep: no reload, so no
 * proxied WebSocket of another service is closed (Caddy 2.6). The range lies below Linux's
 * ephemeral range (32768-60999), where Docker's random ports and outgoing connections never land.
 */
export class HostPorts {
  private readonly reserved = new Set<number>();

  constructor(private readonly docker: DockerClient, readonly range: PortRange) {}

  /** A port no Slipway container (of any namespace) is labelled with and nothing listens on now. */
  async allocate(): Promise<number | null> {
    const range = this.range;
    if (!range) return null;
    const used = new Set(this.reserved);
    for (const c of await this.docker.listContainers({ labels: [LABEL_HTTP_PORT] })) {
      const p = Number(c.labels[LABEL_HTTP_PORT]);
      if (Number.isInteger(p)) used.add(p);
    }
    const size = range.to - range.from + 1;
    const offset = Math.floor(Math.random() * size);
    for (let i = 0; i < size; i++) {
      const port = range.from + ((offset + i) % size);
      if (used.has(port) || !(await bindable(port))) continue;
      // Held until the container carrying the label exists (a concurrent create sees it then).
      this.reserved.add(port);
      setTimeout(() => this.reserved.delete(port), 120_000).unref();
      return port;
    }
    throw new Error(`no free host port left in ${range.from}-${range.to} (SLIPWAY_CONTAINERS_HTTP_PORT_RANGE)`);
  }

  /** True when a port falls in the range (operators may not publish their own ports there). */
  inRange(port: number): boolean {
    return !!this.range && port >= this.range.from && port <= this.range.to;
  }
}

export function parsePortRange(v: string): PortRange {
  if (v === 'random') return null;
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(v);
  if (!m) throw new Error('expected from-to, e.g. 20000-29999, or "random"');
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from < 1024 || to > 65535 || from > to) throw new Error('expected 1024 <= from <= to <= 65535');
  return { from, to };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}
