import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestApp, type SignedIn, type TestApp } from '../../../../server/src/testing/harness.js';
import { createVpsModule, type VpsRuntime } from '../index.js';
import { VirshTestSession } from './virsh-session.js';

/**
 * A panel with the VPS module on libvirt's test:///default (one interactive virsh keeps the mock
 * hypervisor's state), real qemu-img and genisoimage, storage in a private temporary directory,
 * a simulated clock for expiry, and a switch that makes a named create step fail.
 */
export interface VpsHarness {
  t: TestApp;
  rt: VpsRuntime;
  /** null on qemu:///system (the module's own local runner). */
  session: VirshTestSession;
  root: string;
  clock: { now: number };
  fail: { at: string | null };
  signIn: TestApp['signIn'];
  close(): Promise<void>;
  /** A tiny ready image (raw zeros uploaded, converted to qcow2) and a plan. */
  seed(admin: SignedIn, o?: { planName?: string; plan?: Record<string, unknown> }): Promise<{ imageId: string; planId: string }>;
  waitJob(id: string): Promise<{ state: string; error: string | null }>;
  /** Everything left behind in the storage root besides images. */
  leftovers(): string[];
}

export async function createVpsHarness(env: Record<string, string> = {}, o: { system?: boolean; root?: string } = {}): Promise<VpsHarness> {
  const root = o.root ?? mkdtempSync(path.join(tmpdir(), 'slipway-vps-'));
  const session = o.system ? (null as unknown as VirshTestSession) : new VirshTestSession();
  const clock = { now: Date.now() };
  const fail = { at: null as string | null };
  let rt!: VpsRuntime;
  const t = await createTestApp({
    modules: [createVpsModule({ ...(o.system ? {} : { runner: async () => session }), clock: () => clock.now, failAt: () => fail.at, onRuntime: (r) => (rt = r) })],
    env: {
      SLIPWAY_VPS_LIBVIRT_URI: o.system ? 'qemu:///system' : 'test:///default', SLIPWAY_VPS_STORAGE_ROOT: root, SLIPWAY_VPS_HOST_CPUS: '4', SLIPWAY_VPS_HOST_MEMORY_MB: '8192', SLIPWAY_VPS_HOST_DISK_GB: '100',
      SLIPWAY_VPS_EXPIRY_SWEEP_INTERVAL_MS: '0', SLIPWAY_VPS_INVENTORY_REFRESH_MS: '0', SLIPWAY_VPS_MAX_UPLOAD_BYTES: String(1024 * 1024), SLIPWAY_VPS_SHUTDOWN_TIMEOUT_MS: '2000', SLIPWAY_VPS_METRICS_INTERVAL_MS: '0',
      ...env,
    },
  });
  const until = Date.now() + 30_000;
  while (!t.services.modules.isUsable('vps')) {
    if (Date.now() > until) throw new Error(`vps module not usable: ${JSON.stringify(t.services.modules.get('vps'))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let seq = 0;
  const h: VpsHarness = {
    t, rt, session, root, clock, fail,
    signIn: (role, o) => t.signIn(role, o),
    async close() {
      await t.close();
      session?.close();
      rmSync(root, { recursive: true, force: true });
    },
    async waitJob(id) {
      const j = await t.services.jobs.waitFor(id, 60_000);
      return { state: j.state, error: j.error };
    },
    async seed(admin, o = {}) {
      const n = ++seq;
      const body = Buffer.alloc(512 * 1024);
      const up = await t.app.inject({ method: 'POST', url: `/api/v1/vps/images?name=base-${n}&os=test&minDiskGb=1`, headers: { ...admin.headers, 'content-type': 'application/octet-stream' }, payload: body });
      if (up.statusCode !== 202) throw new Error(`upload: ${up.statusCode} ${up.body}`);
      const { image, job } = up.json() as { image: { id: string }; job: { id: string } };
      const j = await h.waitJob(job.id);
      if (j.state !== 'succeeded') throw new Error(`convert: ${j.error}`);
      const plan = await t.app.inject({ method: 'POST', url: '/api/v1/vps/plans', headers: admin.headers, payload: { name: o.planName ?? `small-${n}`, vcpus: 1, memoryMb: 256, diskGb: 1, maxSnapshots: 2, ...o.plan } });
      if (plan.statusCode !== 201) throw new Error(`plan: ${plan.statusCode} ${plan.body}`);
      return { imageId: image.id, planId: (plan.json() as { plan: { id: string } }).plan.id };
    },
    leftovers() {
      const out: string[] = [];
      for (const d of ['disks', 'seeds', 'uploads']) {
        try {
          for (const f of readdirSync(path.join(root, d))) out.push(`${d}/${f}`);
        } catch {
          /* not made */
        }
      }
      return out;
    },
  };
  return h;
}

/** A valid ed25519 public key line (random key material, correct wire format). */
export function ed25519Key(comment = 'test@host'): string {
  const out = execFileSync('sh', ['-c', 'd=$(mktemp -d) && ssh-keygen -q -t ed25519 -N "" -C "$1" -f "$d/k" && cat "$d/k.pub" && rm -rf "$d"', 'sh', comment], { encoding: 'utf8' });
  return out.trim();
}
