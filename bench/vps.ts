/**
 * VPS benchmark (issue 12), in one run:
 *  1. GET /api/v1/vps p50/p99 with 1,000 defined domains (libvirt test:///default, one record each,
 *     state from the inventory) next to GET /api/v1/auth/me, in-process (app.inject), sequential.
 *     Target: p99 < 200 ms.
 *  2. Create pipeline (POST /vps → job → domain running) of the busybox test guest on qemu:///system
 *     next to a bare `virsh create` of the same domain XML (overlay and seed made beforehand).
 *     BENCH_VPS_CREATES times (default 3, one booting guest at a time; the public network made
 *     beforehand, as on a host in use), median reported. Skip with BENCH_VPS_SYSTEM=0.
 * Run: npx tsx bench/vps.ts
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LocalProcessRunner } from '../server/src/infra/process-runner.js';
import { QemuImg } from '../server/src/infra/qemu-img.js';
import { buildSeedFiles, writeSeedIso } from '../modules/vps/server/cloud-init.js';
import { buildDomainXml } from '../modules/vps/server/domain-xml.js';
import { Virsh } from '../modules/vps/server/libvirt.virsh.js';
import { testGuest } from '../modules/vps/server/test-fixtures/test-guest.js';
import { createVpsHarness } from '../modules/vps/server/test-fixtures/vps-harness.js';

const DOMAINS = Number(process.env.BENCH_VPS_DOMAINS ?? 1000);
const REQUESTS = Number(process.env.BENCH_VPS_REQUESTS ?? 200);
const CREATES = Number(process.env.BENCH_VPS_CREATES ?? 3);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
async function time(n: number, fn: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  if (process.env.BENCH_VPS_VERBOSE) console.log('  worst:', [...xs].sort((a, b) => b - a).slice(0, 6).map((x) => x.toFixed(0)).join(' '));
  return { p50: pct(xs, 50), p99: pct(xs, 99) };
}

async function inventoryBench() {
  const h = await createVpsHarness({ SLIPWAY_VPS_HOST_CPUS: '4096', SLIPWAY_VPS_HOST_MEMORY_MB: '67108864', SLIPWAY_VPS_HOST_DISK_GB: '1000000' });
  try {
    const admin = await h.signIn('admin');
    const { imageId, planId } = await h.seed(admin);
    const repo = h.rt.service.d.repo;
    const v = (await h.rt.hosts.get('local')).virsh;
    const t0 = performance.now();
    for (let i = 0; i < DOMAINS; i++) {
      const id = `bench${String(i).padStart(5, '0')}`;
      const mac = `52:54:01:${(i >> 16) & 255}:${(i >> 8) & 255}:${i & 255}`.replace(/:(\d+)/g, (_m, d: string) => `:${Number(d).toString(16).padStart(2, '0')}`);
      await v.define(buildDomainXml({ name: `slw-${id}`, type: 'qemu', memoryMb: 256, vcpus: 1, disk: { path: `/nonexistent/${id}.qcow2`, format: 'qcow2' }, metadata: { vpsId: id, ownerId: admin.user.id } }), { vpsId: id, ownerId: admin.user.id });
      await repo.insert({ id, ownerId: admin.user.id, hostId: 'local', planId, imageId, hostname: `h${i}`, dnsName: null, domainName: `slw-${id}`, vcpus: 1, memoryMb: 256, diskGb: 1, network: 'public', networkName: null, mac, address: null, state: 'shut off', lastError: null, spec: { sshKeys: [], userData: null, start: false } });
    }
    await h.rt.inventory.refresh('local', v);
    console.log(`defined ${DOMAINS} domains on test:///default in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const get = (url: string) => h.t.app.inject({ method: 'GET', url, headers: admin.headers });
    const first = await get('/api/v1/vps');
    if ((first.json() as { total: number }).total !== DOMAINS) throw new Error(`expected ${DOMAINS} VPSes, got ${first.body.slice(0, 200)}`);
    await time(20, () => get('/api/v1/vps')); // warm-up (JIT)
    await time(20, () => get('/api/v1/auth/me'));
    const vps = await time(REQUESTS, () => get('/api/v1/vps'));
    const me = await time(REQUESTS, () => get('/api/v1/auth/me'));
    console.log(`GET /vps (${DOMAINS} VPSes): p50 ${vps.p50.toFixed(1)} ms, p99 ${vps.p99.toFixed(1)} ms ${vps.p99 < 200 ? '(target < 200 ms: ok)' : '(target < 200 ms: MISSED)'}`);
    const svc = await time(REQUESTS, () => h.rt.service.list({ kind: 'user', userId: admin.user.id, username: 'a', role: 'admin' }, { limit: 5000, offset: 0 }));
    console.log(`  (service.list alone: p50 ${svc.p50.toFixed(1)} ms, p99 ${svc.p99.toFixed(1)} ms)`);
    console.log(`GET /auth/me:             p50 ${me.p50.toFixed(1)} ms, p99 ${me.p99.toFixed(1)} ms`);
  } finally {
    await h.close();
  }
}

async function createBench() {
  const g = testGuest();
  const tag = randomBytes(3).toString('hex');
  const root = `/var/lib/libvirt/images/slipway-bench-${tag}`;
  const net = `slipway-b${tag}`;
  const octet = 100 + (parseInt(tag.slice(0, 2), 16) % 150);
  const virsh = new Virsh(new LocalProcessRunner(), { uri: 'qemu:///system' });
  mkdirSync(path.join(root, 'kernels'), { recursive: true, mode: 0o711 });
  copyFileSync(g.kernel, path.join(root, 'kernels', 'vmlinuz'));
  copyFileSync(g.initrd, path.join(root, 'kernels', 'initrd.img'));
  const h = await createVpsHarness({ SLIPWAY_VPS_PUBLIC_NETWORK: net, SLIPWAY_VPS_PUBLIC_SUBNET: `10.234.${octet}.0/24`, SLIPWAY_VPS_HOST_DISK_GB: '50', SLIPWAY_VPS_MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) }, { system: true, root });
  const bare = `slw-bare-${tag}`;
  try {
    const admin = await h.signIn('admin');
    const up = await h.t.app.inject({ method: 'POST', url: `/api/v1/vps/images?name=busybox&kernel=vmlinuz&initrd=initrd.img&cmdline=${encodeURIComponent(g.cmdline)}`, headers: { ...admin.headers, 'content-type': 'application/octet-stream' }, payload: readFileSync(g.baseDisk) });
    await h.waitJob(up.json().job.id);
    const plan = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps/plans', headers: admin.headers, payload: { name: 'tiny', vcpus: 1, memoryMb: 256, diskGb: 1 } });
    // Steady state: the public network exists (its first use defines and starts it, ~2 s, once per host).
    await h.rt.hosts.networkFor('local', 'public', admin.user.id);
    const run = new LocalProcessRunner();
    const q = new QemuImg(run, { root });
    const img = (await h.rt.service.d.repo.images(false)).find((i) => i.name === 'busybox')!;
    const system = { kind: 'system' as const, userId: null, username: 'system', role: 'admin' as const };
    const rows: { pipeline: number; bare: number; steps: string }[] = [];
    for (let i = 0; i < CREATES; i++) {
      const t0 = performance.now();
      const res = await h.t.app.inject({ method: 'POST', url: '/api/v1/vps', headers: admin.headers, payload: { hostname: `bench${i}`, planId: plan.json().plan.id, imageId: up.json().image.id } });
      const job = await h.waitJob(res.json().job.id);
      const pipeline = performance.now() - t0;
      if (job.state !== 'succeeded') throw new Error(`create failed: ${job.error}`);
      const jobView = await h.t.services.jobs.get(res.json().job.id, system);
      const steps = jobView.steps.map((st) => `${st.name} ${(st.finishedAt ?? 0) - (st.startedAt ?? 0)}`).join(', ');
      const id = res.json().vps.id as string;
      await (await h.rt.hosts.get('local')).virsh.destroy(`slw-${id}`, id); // one booting guest at a time

      // the same domain XML, created bare (transient) with virsh: overlay + seed made beforehand
      rmSync(path.join(root, 'bare.qcow2'), { force: true });
      rmSync(path.join(root, 'bare.iso'), { force: true });
      await q.create(path.join(root, 'bare.qcow2'), { backing: { file: img.file!, format: 'qcow2' }, sizeBytes: 1024 ** 3 });
      await writeSeedIso(run, path.join(root, 'bare.iso'), buildSeedFiles({ instanceId: bare, hostname: 'bare', sshKeys: [], network: { mac: '52:54:00:fe:00:01', mode: 'dhcp' } }));
      const xml = buildDomainXml({ name: bare, type: 'qemu', memoryMb: 256, vcpus: 1, boot: { kind: 'kernel', kernel: path.join(root, 'kernels', 'vmlinuz'), initrd: path.join(root, 'kernels', 'initrd.img'), cmdline: g.cmdline }, disk: { path: path.join(root, 'bare.qcow2'), format: 'qcow2' }, seedIso: path.join(root, 'bare.iso'), interfaces: [{ network: net, mac: '52:54:00:fe:00:01' }], vnc: true, metadata: { vpsId: `bare-${tag}`, ownerId: 'bench' } });
      writeFileSync(path.join(root, 'bare.xml'), xml);
      const t1 = performance.now();
      execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'create', path.join(root, 'bare.xml')]);
      const bareMs = performance.now() - t1;
      execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'destroy', bare], { stdio: 'ignore' });
      rows.push({ pipeline, bare: bareMs, steps });
      console.log(`  create ${i + 1}: pipeline ${pipeline.toFixed(0)} ms, bare virsh create ${bareMs.toFixed(0)} ms, overhead ${(pipeline - bareMs).toFixed(0)} ms (steps, ms: ${steps})`);
      const del = await h.t.app.inject({ method: 'DELETE', url: `/api/v1/vps/${id}`, headers: admin.headers, payload: { confirm: `bench${i}` } });
      await h.waitJob(del.json().job.id);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`create pipeline (POST /vps → running), median of ${CREATES}: ${med(rows.map((r) => r.pipeline)).toFixed(0)} ms`);
    console.log(`bare virsh create of the same XML, median:   ${med(rows.map((r) => r.bare)).toFixed(0)} ms  → panel overhead ${med(rows.map((r) => r.pipeline - r.bare)).toFixed(0)} ms (target < 1000 ms)`);
  } finally {
    try {
      execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'destroy', bare], { stdio: 'ignore' });
    } catch {
      /* not running */
    }
    await h.close().catch(() => {});
    try {
      execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'net-destroy', net], { stdio: 'ignore' });
      execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'net-undefine', net], { stdio: 'ignore' });
    } catch {
      /* not made */
    }
    void virsh;
    rmSync(root, { recursive: true, force: true });
  }
}

await inventoryBench();
if (process.env.BENCH_VPS_SYSTEM !== '0') await createBench();
process.exit(0);
