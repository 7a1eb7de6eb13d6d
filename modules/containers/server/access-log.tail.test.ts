import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessLogTail, parseAccessLine } from './access-log.tail.js';
import { startOrder } from './containers.schema.js';

// A line as Caddy 2.6 writes it for `http.log.access.*` with the json encoder (fields trimmed).
const line = (host: string, ts: number) =>
  `${JSON.stringify({ level: 'info', ts, logger: 'http.log.access.slipway_containers_access', msg: 'handled request', request: { remote_ip: '127.0.0.1', proto: 'HTTP/1.1', method: 'GET', host, uri: '/' }, duration: 0.0012, size: 12, status: 200 })}\n`;

describe('Caddy access log tail', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads only new lines, keeps partial lines for later and follows truncation', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'slipway-tail-'));
    const file = path.join(dir, 'access.log');
    writeFileSync(file, line('old.example', 1000));
    const tail = new AccessLogTail(file);
    expect(await tail.read()).toEqual([]); // history is not activity
    appendFileSync(file, line('App.Example:8080', 1700000000.25));
    const half = line('b.example', 1700000001);
    appendFileSync(file, half.slice(0, 20));
    expect(await tail.read()).toEqual([{ host: 'app.example', at: 1700000000250, status: 200, durationMs: 1.2 }]);
    appendFileSync(file, half.slice(20));
    expect((await tail.read()).map((e) => e.host)).toEqual(['b.example']);
    writeFileSync(file, line('after-rotation.example', 1700000002)); // rotated: shorter file
    expect((await tail.read()).map((e) => e.host)).toEqual(['after-rotation.example']);
    expect(parseAccessLine('not json')).toBeNull();
  });

  it('empties the file once read past its limit, then keeps following', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'slipway-tail-'));
    const file = path.join(dir, 'access.log');
    writeFileSync(file, '');
    const tail = new AccessLogTail(file, 1000);
    await tail.read();
    for (let i = 0; i < 6; i++) appendFileSync(file, line(`h${i}.example`, 1700000000 + i));
    expect(await tail.read()).toHaveLength(6);
    expect(statSync(file).size).toBe(0);
    appendFileSync(file, line('next.example', 1700000010));
    expect((await tail.read()).map((e) => e.host)).toEqual(['next.example']);
  });
});

describe('dependency order', () => {
  it('starts dependencies first and refuses cycles', () => {
    const order = startOrder([{ name: 'app', dependsOn: ['db', 'cache'] }, { name: 'db', dependsOn: [] }, { name: 'cache', dependsOn: ['db'] }]);
    expect(order.map((c) => c.name)).toEqual(['db', 'cache', 'app']);
    expect(() => startOrder([{ name: 'a', dependsOn: ['b'] }, { name: 'b', dependsOn: ['a'] }])).toThrow(/cycle/);
  });
});
