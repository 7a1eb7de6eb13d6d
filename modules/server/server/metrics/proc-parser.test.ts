import { execFileSync } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { computeSample, downsample, parseDfPosix, parseMounts, parseStat, splitTailOutput, toPoint } from './proc-parser.js';
import { LocalProcSource } from './proc-source.js';

const read = (f: string) => readFileSync(f, 'utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the /proc sampler, checked against /proc read by the test at the same moment', () => {
  it('reports memory, load, cores, uptime and disk usage as the kernel does', async () => {
    const source = new LocalProcSource();
    const a = await source.read();
    await sleep(300);
    const meminfo = read('/proc/meminfo');
    const loadavg = read('/proc/loadavg').split(' ').map(Number);
    const uptime = Number(read('/proc/uptime').split(' ')[0]);
    const b = await source.read();
    const s = computeSample(a, b);

    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(meminfo)![1]) * 1024;
    expect(s.memory.totalBytes).toBe(kb('MemTotal'));
    // Memory moves a little between two reads: within 2 % of the total.
    expect(Math.abs(s.memory.usedBytes - (kb('MemTotal') - kb('MemAvailable')))).toBeLessThan(kb('MemTotal') * 0.02);
    expect(s.memory.swapTotalBytes).toBe(kb('SwapTotal'));
    expect(Math.abs(s.load.load1 - loadavg[0]!)).toBeLessThan(0.5);
    expect(s.cpu.cores).toBe(cpus().length);
    expect(s.cpu.perCore).toHaveLength(cpus().length);
    expect(Math.abs(s.uptimeSeconds - uptime)).toBeLessThan(2);

    // The root filesystem as statfs(2) and df(1) see it.
    const root = s.disks.find((d) => d.mount === '/');
    expect(root).toBeDefined();
    const st = statfsSync('/');
    expect(root!.totalBytes).toBe(st.blocks * st.bsize);
    const df = parseDfPosix(execFileSync('df', ['-P', '-k', '--', '/'], { encoding: 'utf8' }))[0]!;
    expect(Math.abs(root!.usedPercent - (df.usedBytes / (df.usedBytes + df.availableBytes)) * 100)).toBeLessThan(1);
  });

  it('computes CPU use from the same /proc/stat difference the test computes itself', async () => {
    const source = new LocalProcSource();
    const a = await source.read();
    const statA = parseStat(read('/proc/stat')).total;
    // Burn CPU so the number is not trivially 0.
    const until = Date.now() + 400;
    while (Date.now() < until) Math.sqrt(Math.random());
    const statB = parseStat(read('/proc/stat')).total;
    const b = await source.read();
    const s = computeSample(a, b);
    const busy = (t: typeof statA) => t.user + t.nice + t.system + t.irq + t.softirq + t.steal;
    const all = (t: typeof statA) => busy(t) + t.idle + t.iowait;
    const expected = ((busy(statB) - busy(statA)) / (all(statB) - all(statA))) * 100;
    expect(s.cpu.percent).toBeGreaterThan(100 / cpus().length / 2); // at least half of the busy core
    expect(Math.abs(s.cpu.percent - expected)).toBeLessThan(15);
  });

  it('counts network bytes: loopback traffic made by the test shows as a rate', async () => {
    const source = new LocalProcSource();
    const a = await source.read();
    const { createServer, connect } = await import('node:net');
    const srv = createServer((sock) => sock.resume());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const payload = Buffer.alloc(4 * 1024 * 1024);
    await new Promise<void>((r) => {
      const c = connect(port, '127.0.0.1', () => c.end(payload, () => r()));
    });
    await sleep(200);
    const b = await source.read();
    srv.close();
    const lo = computeSample(a, b).network.find((n) => n.iface === 'lo')!;
    const seconds = (b.at - a.at) / 1000;
    expect(lo.rxBytesPerSec * seconds).toBeGreaterThanOrEqual(payload.length);
  });

  it('splits `tail -n +1` output of several files and parses df -P', () => {
    const out = execFileSync('tail', ['-n', '+1', '--', '/proc/loadavg', '/proc/uptime', '/proc/mounts'], { encoding: 'utf8' });
    const files = splitTailOutput(out);
    expect([...files.keys()]).toEqual(['/proc/loadavg', '/proc/uptime', '/proc/mounts']);
    expect(files.get('/proc/loadavg')!.trim().split(' ')).toHaveLength(5);
    expect(parseMounts(files.get('/proc/mounts')!).map((m) => m.mount)).toContain('/');
    expect(parseDfPosix('Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 100 40 60 40% /srv/my data\n')).toEqual([
      { mount: '/srv/my data', totalBytes: 102400, usedBytes: 40960, availableBytes: 61440 },
    ]);
  });

  it('downsamples points into averaged buckets', async () => {
    const source = new LocalProcSource();
    const a = await source.read();
    await sleep(50);
    const b = await source.read();
    const p = toPoint(computeSample(a, b));
    const points = [0, 1, 2, 3].map((i) => ({ ...p, at: 60_000 + i * 20_000, cpuPercent: i * 10 }));
    const d = downsample(points, 60_000);
    expect(d.map((x) => [x.at, x.cpuPercent])).toEqual([[60_000, 10], [120_000, 30]]);
  });
});
