import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProcessRunner } from '../../../server/src/testing/index.js';
import type { SignedIn } from '../../../server/src/testing/harness.js';
import { Virsh } from './libvirt.virsh.js';
import { createVpsHarness, type VpsHarness } from './test-fixtures/vps-harness.js';

/**
 * Private networks on real qemu:///system (no guest boots: the domains are defined, not started):
 * one isolated libvirt network per owner (started, dnsmasq serving its DHCP reservations), each
 * owner's defined domain attached to its own network only, the network removed with the owner's
 * last VPS. The same rules on libvirt's test driver are in vps.service.test.ts; this one proves
 * real libvirtd accepts the network and domain XML and really starts and removes the network.
 */
describe('vps on qemu:///system: private networks per owner', () => {
  const tag = randomBytes(3).toString('hex');
  const root = `/var/lib/libvirt/images/slipway-privtest-${tag}`;
  // a /16 of its own so tests running at the same time never share a subnet
  const second = 160 + (parseInt(tag.slice(0, 2), 16) % 60);
  let h: VpsHarness;
  let admin: SignedIn;
  let operator: SignedIn;
  let alice: SignedIn;
  let bob: SignedIn;
  let seed: { imageId: string; planId: string };
  const virsh = new Virsh(new LocalProcessRunner(), { uri: 'qemu:///system' });
  let before = new Set<string>();

  beforeAll(async () => {
    before = new Set((await virsh.netList()).map((n) => n.name));
    h = await createVpsHarness({ SLIPWAY_VPS_PRIVATE_SUBNETS: `10.${second}.0.0/16`, SLIPWAY_VPS_PUBLIC_NETWORK: `slipway-p${tag}`, SLIPWAY_VPS_PUBLIC_SUBNET: `10.${second}.250.0/24` }, { system: true, root });
    admin = await h.signIn('admin');
    operator = await h.signIn('operator');
    alice = await h.signIn('user');
    bob = await h.signIn('user');
    seed = await h.seed(admin);
  }, 120_000);

  afterAll(async () => {
    await h?.close().catch(() => {});
    for (const d of await virsh.listAll().catch(() => [])) {
      if (!d.name.startsWith('slw-')) continue;
      const desc = await virsh.describe(d.name).catch(() => null);
      if (desc?.disks.some((k) => k.file?.startsWith(root)) && desc.slipway) await virsh.undefine(d.name, desc.slipway.vpsId).catch(() => {});
    }
    for (const n of await virsh.netList().catch(() => [])) {
      if (before.has(n.name) || !n.managed) continue;
      if (!(await virsh.netDumpxml(n.name).catch(() => '')).includes(`10.${second}.`)) continue;
      await virsh.netDestroy(n.name).catch(() => {});
      await virsh.netUndefine(n.name).catch(() => {});
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('defines an isolated, started network per owner, attaches each owner\'s stopped domain to it, and removes it with the last VPS', async () => {
    const api = (who: SignedIn, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
      h.t.app.inject({ method, url: `/api/v1${url}`, headers: who.headers, ...(payload ? { payload: payload as object } : {}) });
    const mk = async (ownerId: string, hostname: string) => {
      const r = await api(operator, 'POST', '/vps', { planId: seed.planId, imageId: seed.imageId, hostname, ownerId, network: 'private', start: false });
      expect(r.statusCode, r.body).toBe(202);
      expect(await h.waitJob(r.json().job.id)).toEqual({ state: 'succeeded', error: null });
      return (await api(operator, 'GET', `/vps/${r.json().vps.id}`)).json().vps as { id: string; address: string; domainName: string; state: string };
    };
    const a1 = await mk(alice.user.id, 'priv-a1');
    const a2 = await mk(alice.user.id, 'priv-a2');
    const b1 = await mk(bob.user.id, 'priv-b1');
    for (const v of [a1, a2, b1]) {
      expect(v.state).toBe('shut off');
      expect(v.address).toMatch(new RegExp(`^10\\.${second}\\.\\d+\\.\\d+$`));
      expect((await virsh.domstate(v.domainName)).state).toBe('shut off');
    }
    const added = (await virsh.netList()).filter((n) => !before.has(n.name) && n.name !== `slipway-p${tag}`);
    expect(added).toHaveLength(2); // alice's and bob's
    for (const n of added) expect(n).toMatchObject({ active: true, persistent: true, managed: true });
    const netOf = async (ip: string) => {
      for (const n of added) if ((await virsh.netDumpxml(n.name)).includes(`ip='${ip}'`)) return n.name;
      return null;
    };
    const aliceNet = await netOf(a1.address);
    expect(aliceNet).not.toBeNull();
    expect(await netOf(a2.address)).toBe(aliceNet);
    const bobNet = await netOf(b1.address);
    expect(bobNet).not.toBeNull();
    expect(bobNet).not.toBe(aliceNet);
    // each domain is attached to its owner's network only
    expect((await virsh.describe(a1.domainName)).interfaces.map((i) => i.network)).toEqual([aliceNet]);
    expect((await virsh.describe(a2.domainName)).interfaces.map((i) => i.network)).toEqual([aliceNet]);
    expect((await virsh.describe(b1.domainName)).interfaces.map((i) => i.network)).toEqual([bobNet]);
    // isolated: no <forward> (no route out, none to another owner's network); distinct /24s
    for (const n of added) expect(await virsh.netDumpxml(n.name)).not.toContain('<forward');
    expect(a1.address.split('.').slice(0, 3)).not.toEqual(b1.address.split('.').slice(0, 3));

    const del = async (id: string, hostname: string) => {
      const r = await api(operator, 'DELETE', `/vps/${id}`, { confirm: hostname });
      expect(r.statusCode, r.body).toBe(202);
      expect(await h.waitJob(r.json().job.id)).toMatchObject({ state: 'succeeded' });
    };
    await del(a1.id, 'priv-a1');
    expect((await virsh.netList()).map((n) => n.name)).toContain(aliceNet); // a2 still uses it
    const repo = h.rt.service.d.repo;
    expect(await repo.addressOf(a1.id)).toBeUndefined();
    expect([...await repo.usedAddresses('local', aliceNet!)]).toEqual([a2.address]);
    await del(a2.id, 'priv-a2');
    await del(b1.id, 'priv-b1');
    const names = (await virsh.netList()).map((n) => n.name);
    expect(names).not.toContain(aliceNet);
    expect(names).not.toContain(bobNet);
    for (const v of [a1, a2, b1]) expect(await virsh.exists(v.domainName)).toBe(false);
    expect(h.leftovers()).toEqual([]);
    for (const v of [a1, a2, b1]) expect(await repo.addressOf(v.id)).toBeUndefined();
  }, 300_000);
});
