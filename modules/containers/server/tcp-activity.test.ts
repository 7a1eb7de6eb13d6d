import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { loopbackConnections } from './tcp-activity.js';

// The kernel's own socket tables (Linux): what the idle sweep reads instead of a log line per request.
describe('loopback connections of a port (idle sweep activity)', () => {
  it('an open connection is established; once closed it is still there (TIME_WAIT) under the same key', async () => {
    const server = net.createServer((c) => c.on('data', () => c.end('bye')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const other = (await loopbackConnections(new Set([port])))!;
    expect(other.get(port)).toBeUndefined(); // listening only: no connection

    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', () => r()));
    const open = (await loopbackConnections(new Set([port])))!.get(port)!;
    expect(open.established).toBe(true);
    expect(open.keys.size).toBe(1);

    client.resume();
    client.write('hi');
    await new Promise<void>((r) => client.once('close', () => r()));
    await new Promise((r) => setTimeout(r, 100));
    const closed = (await loopbackConnections(new Set([port])))!.get(port)!;
    expect(closed.established).toBe(false);
    expect([...closed.keys]).toEqual([...open.keys]); // the same connection: not new activity

    // A second short request is a new key: activity even though nothing is established any more.
    const again = net.connect(port, '127.0.0.1', () => again.write('hi'));
    again.resume();
    await new Promise<void>((r) => again.once('close', () => r()));
    await new Promise((r) => setTimeout(r, 100));
    const after = (await loopbackConnections(new Set([port])))!.get(port)!;
    expect([...after.keys].some((k) => !open.keys.has(k))).toBe(true);
    server.close();
  });
});
