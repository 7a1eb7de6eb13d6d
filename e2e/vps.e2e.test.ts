import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { macForAddress, parseNetworkHosts } from '../modules/vps/server/domain-xml.js';
import { Virsh } from '../modules/vps/server/libvirt.virsh.js';
import { ed25519Key } from '../modules/vps/server/test-fixtures/vps-harness.js';
import { testGuest } from '../modules/vps/server/test-fixtures/test-guest.js';
import { LocalProcessRunner } from '../server/src/infra/process-runner.js';
import { createFirstAdmin, launchChromium, shot, signInThroughForm, watchErrors } from './browser.js';
import { buildWeb, repoRoot, startPanel, type Panel } from './panel.js';

/**
 * The VPS console pages in Chromium against a panel on real libvirt (qemu:///system, TCG) with the
 * busybox test guest (modules/vps/server/test-fixtures): create a server in the wizard (plan, image,
 * SSH key, cloud-init user-data) and follow its job log, open its serial console and see the guest's
 * login prompt with the seeded hostname, take a snapshot, delete it with the hostname typed. The
 * one real guest boot of this file; everything it made is removed afterwards.
 */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const tag = randomBytes(3).toString('hex');
const root = `/var/lib/libvirt/images/slipway-e2e-${tag}`;
const net = `slipway-e${tag.slice(0, 6)}`;
const octet = 100 + (parseInt(tag.slice(2, 4), 16) % 150);
const HOST = `e2e${tag}`;
const docs = path.join(repoRoot, 'docs/screenshots');
const virsh = new Virsh(new LocalProcessRunner(), { uri: 'qemu:///system' });

let panel: Panel;
let browser: Browser;
let page: Page;
let errors: string[];
let token: string;
let vpsId: string;

const api = async <T>(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> => {
  const res = await fetch(`${panel.url}${p}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined && !(body instanceof Uint8Array) ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
};
const waitJob = async (id: string) => {
  const until = Date.now() + 120_000;
  for (;;) {
    const { job } = await api<{ job: { state: string; error: string | null } }>('GET', `/api/v1/jobs/${id}`);
    if (!['queued', 'running'].includes(job.state) || Date.now() > until) return job;
    await new Promise((r) => setTimeout(r, 500));
  }
};

/** docs/screenshots/vps-<name>-<light|dark>.png at desktop width. */
async function docShot(p: Page, name: string) {
  mkdirSync(docs, { recursive: true });
  // toasts ("Snapshot taken") close by themselves: not in the pictures
  await expect.poll(() => p.locator('.mantine-Notification-root').count(), { timeout: 15_000 }).toBe(0);
  for (const scheme of ['light', 'dark'] as const) {
    await p.emulateMedia({ colorScheme: scheme });
    await expect.poll(() => p.locator('html').getAttribute('data-mantine-color-scheme')).toBe(scheme);
    await p.waitForTimeout(300); // transitions
    await p.screenshot({ path: path.join(docs, `vps-${name}-${scheme}.png`), fullPage: false });
  }
  await p.emulateMedia({ colorScheme: 'light' });
}

beforeAll(async () => {
  const g = testGuest();
  mkdirSync(path.join(root, 'kernels'), { recursive: true, mode: 0o711 });
  copyFileSync(g.kernel, path.join(root, 'kernels', 'vmlinuz'));
  copyFileSync(g.initrd, path.join(root, 'kernels', 'initrd.img'));
  buildWeb();
  panel = await startPanel({
    SLIPWAY_MODULES: 'vps',
    SLIPWAY_VPS_LIBVIRT_URI: 'qemu:///system', SLIPWAY_VPS_STORAGE_ROOT: root, SLIPWAY_VPS_PUBLIC_NETWORK: net, SLIPWAY_VPS_PUBLIC_SUBNET: `10.234.${octet}.0/24`,
    SLIPWAY_VPS_HOST_DISK_GB: '50', SLIPWAY_VPS_MAX_UPLOAD_BYTES: String(64 * 1024 * 1024),
    SLIPWAY_VPS_EXPIRY_SWEEP_INTERVAL_MS: '0', SLIPWAY_VPS_SHUTDOWN_TIMEOUT_MS: '5000', SLIPWAY_VPS_METRICS_INTERVAL_MS: '2000',
  });
  await createFirstAdmin(panel.setupUrl, ADMIN);
  token = (await (await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }) })).json() as { accessToken: string }).accessToken;
  // What an operator and billing would have set up: the image, a plan; the admin's saved SSH key.
  const deadline = Date.now() + 60_000;
  while ((await api<{ items: { id: string; status: string }[] }>('GET', '/api/v1/modules')).items.find((m) => m.id === 'vps')?.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`vps module not ready: ${JSON.stringify(await api('GET', '/api/v1/modules'))}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const up = await api<{ job: { id: string } }>('POST', `/api/v1/vps/images?name=busybox-test&os=test&version=1&kernel=vmlinuz&initrd=initrd.img&cmdline=${encodeURIComponent(g.cmdline)}`, new Uint8Array(readFileSync(g.baseDisk)), { 'content-type': 'application/octet-stream' });
  expect(await waitJob(up.job.id)).toMatchObject({ state: 'succeeded' });
  await api('POST', '/api/v1/vps/plans', { name: 'Tiny', vcpus: 1, memoryMb: 256, diskGb: 1, bandwidthGb: 100, maxSnapshots: 2, priceLabel: '€2/month' });
  await api('POST', '/api/v1/vps/plans', { name: 'Small', vcpus: 2, memoryMb: 2048, diskGb: 20, bandwidthGb: 1000, maxSnapshots: 3, priceLabel: '€6/month' });
  await api('POST', '/api/v1/ssh-keys', { name: 'e2e laptop', publicKey: ed25519Key('admin@e2e') });

  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1440, height: 960 } })).newPage();
  errors = watchErrors(page);
  await signInThroughForm(page, panel.url, ADMIN);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await panel?.stop();
  for (const d of await virsh.listAll().catch(() => [])) {
    if (!d.name.startsWith('slw-')) continue;
    const desc = await virsh.describe(d.name).catch(() => null);
    if (desc?.slipway && desc.disks.some((k) => k.file?.startsWith(root))) {
      await virsh.destroy(d.name, desc.slipway.vpsId).catch(() => {});
      await virsh.undefine(d.name, desc.slipway.vpsId).catch(() => {});
    }
  }
  if ((await virsh.netList().catch(() => [])).some((n) => n.name === net)) {
    await virsh.netDestroy(net).catch(() => {});
    await virsh.netUndefine(net).catch(() => {});
  }
  rmSync(root, { recursive: true, force: true });
});

describe('VPS console pages in Chromium (qemu:///system, TCG)', () => {
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await shot(page, 'vps-failure', ctx.task.name.slice(0, 30).replace(/\W+/g, '-')).catch(() => {});
  });

  it('creates a server in the wizard with a key and cloud-init user-data, following the job log', async () => {
    await page.goto(`${panel.url}/vps`);
    await page.getByText('No virtual servers yet').waitFor();
    await page.getByRole('button', { name: 'New server' }).first().click();
    await page.getByLabel(/^Hostname/).fill(HOST);
    await page.getByRole('radio', { name: 'Tiny' }).click();
    await page.getByRole('combobox', { name: /^Image/ }).click();
    await page.getByRole('option', { name: /busybox-test/ }).click();
    await page.getByRole('combobox', { name: /^Image/ }).blur();
    await docShot(page, 'wizard-plan');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('checkbox', { name: /e2e laptop/ }).check();
    const ud = page.getByLabel(/^Cloud-init user-data/);
    // The client refuses what is not #cloud-config before anything is sent.
    await ud.fill('#!/bin/sh\necho pwned\n');
    await page.getByText(/must start with the line "#cloud-config"/).waitFor();
    expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await ud.fill('#cloud-config\nfinal_message: "hello from the slipway wizard"\npackages:\n  - htop\n');
    await page.getByText(/must start with the line/).waitFor({ state: 'detached' });
    await docShot(page, 'wizard');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('radio', { name: 'Public' }).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Plan Tiny: 1 vCPU · 256 MB · 1 GB disk').waitFor();
    await page.getByRole('button', { name: 'Create server' }).click();
    // The create job's live log, in the wizard.
    await page.getByText(/NoCloud seed with 1 key\(s\) and user-data/).waitFor({ timeout: 60_000 });
    const list = await api<{ items: { id: string; hostname: string; state: string }[] }>('GET', '/api/v1/vps');
    vpsId = list.items.find((v) => v.hostname === HOST)!.id;
    await expect.poll(async () => (await api<{ vps: { state: string } }>('GET', `/api/v1/vps/${vpsId}`)).vps.state, { timeout: 120_000, interval: 1000 }).toBe('running');
    await page.getByText(/defined slw-/).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Open server' }).click();
    await page.getByRole('heading', { name: HOST }).waitFor();
    await page.locator('[data-vps-state="running"]').first().waitFor({ timeout: 30_000 });
  });

  it("opens the serial console and sees the guest's login prompt with the seeded hostname", async () => {
    await page.getByRole('tab', { name: 'Console' }).click();
    await page.getByRole('button', { name: 'Connect' }).click();
    const consoleBox = page.getByTestId('serial-console');
    await consoleBox.getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
    const rows = consoleBox.locator('.xterm-rows');
    const until = Date.now() + 120_000;
    while (!new RegExp(`${HOST} login:`).test((await rows.textContent()) ?? '') && Date.now() < until) {
      await consoleBox.locator('.xterm').click();
      await page.keyboard.press('Enter');
      await page.waitForTimeout(1500);
    }
    expect(await rows.textContent()).toMatch(new RegExp(`${HOST} login:`));
    // The address is shown on the page (a static DHCP reservation on the public network).
    const v = (await api<{ vps: { address: string } }>('GET', `/api/v1/vps/${vpsId}`)).vps;
    expect(v.address).toMatch(new RegExp(`^10\\.234\\.${octet}\\.\\d+$`));
    await page.getByText(v.address).first().waitFor();
    await docShot(page, 'console');
    // The console never learnt the node's address or a VNC password: it went through the panel's socket only.
    expect(await page.content()).not.toMatch(/vnc:\/\/|5900|\/dev\/pts/);
    await page.getByRole('button', { name: 'Disconnect' }).click();
    // The graphical console: noVNC speaks RFB through the panel's socket to the domain's loopback VNC.
    await page.getByText('Graphical (VNC)').click();
    await page.getByRole('button', { name: 'Connect' }).click();
    const vnc = page.getByTestId('vnc-console');
    await vnc.getByText('connected', { exact: true }).waitFor({ timeout: 30_000 });
    await vnc.locator('canvas').waitFor();
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByText('Serial console', { exact: true }).click();
  });

  it('takes a snapshot with a comment and lists it', async () => {
    await page.getByRole('tab', { name: 'Snapshots' }).click();
    await page.getByText('No snapshots').waitFor();
    await page.getByLabel('Comment').fill('before the e2e upgrade');
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    await page.getByRole('cell', { name: 'before the e2e upgrade', exact: true }).waitFor({ timeout: 120_000 });
    await page.getByText('1 of 2 allowed by the plan').waitFor();
    const snaps = await api<{ items: { comment: string; name: string }[] }>('GET', `/api/v1/vps/${vpsId}/snapshots`);
    expect(snaps.items.map((s) => s.comment)).toEqual(['before the e2e upgrade']);
    const domain = (await api<{ vps: { domainName: string } }>('GET', `/api/v1/vps/${vpsId}`)).vps.domainName;
    const out = await new LocalProcessRunner().exec('virsh', ['-c', 'qemu:///system', 'snapshot-list', '--name', '--', domain]);
    expect(out.stdout).toContain(snaps.items[0]!.name);
  });

  it('shows usage graphs from the running guest, with a time-range picker and the month\'s bandwidth', async () => {
    await page.getByRole('tab', { name: 'Usage' }).click();
    await page.getByText(/^Bandwidth in \d{4}-\d{2}$/).waitFor();
    // samples every 2 s here: two make the first point, then the charts appear
    await page.getByRole('img', { name: `CPU use of ${HOST} in percent` }).waitFor({ timeout: 60_000 });
    await page.getByRole('img', { name: new RegExp(`Network traffic of ${HOST}`) }).waitFor();
    await page.getByText('24 hours').click();
    await page.getByRole('img', { name: `CPU use of ${HOST} in percent` }).waitFor();
    const m = await api<{ range: string; points: { cpuPct: number; memoryMb: number }[] }>('GET', `/api/v1/vps/${vpsId}/metrics?range=24h`);
    expect(m.range).toBe('24h');
    expect(m.points.length).toBeGreaterThan(0);
    expect(m.points.at(-1)!.memoryMb).toBeGreaterThan(0);
  });

  it('lists the server with its live state (screenshot)', async () => {
    await page.getByRole('link', { name: '← Servers' }).click();
    await page.getByRole('link', { name: HOST }).waitFor();
    await page.locator('[data-vps-state="running"]').first().waitFor();
    await docShot(page, 'list');
    await page.getByRole('tab', { name: 'Images' }).click();
    await page.getByText('busybox-test').waitFor();
    await docShot(page, 'images');
    await page.getByRole('tab', { name: 'Servers' }).click();
    await page.getByRole('link', { name: HOST }).click();
    await page.getByRole('heading', { name: HOST }).waitFor();
  });

  it('deletes the server only after its hostname is typed, leaving nothing behind', async () => {
    const before = (await api<{ vps: { domainName: string; address: string } }>('GET', `/api/v1/vps/${vpsId}`)).vps;
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog');
    const confirm = dialog.getByRole('button', { name: 'Delete server' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByRole('textbox').fill(HOST.slice(0, -1));
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByRole('textbox').fill(HOST);
    await confirm.click();
    // The console opens the deletion job.
    await page.waitForURL(/\/jobs\//);
    const jobId = page.url().split('/jobs/')[1]!;
    expect(await waitJob(jobId)).toMatchObject({ state: 'succeeded' });
    expect(await virsh.exists(before.domainName)).toBe(false);
    const left = ['disks', 'seeds', 'uploads'].flatMap((d) => (existsSync(path.join(root, d)) ? readdirSync(path.join(root, d)).map((f) => `${d}/${f}`) : []));
    expect(left).toEqual([]);
    // Only the address's pre-registered reservation (keyed by its own MAC, ADR 0013) is left: none for the deleted VPS.
    expect(parseNetworkHosts(await virsh.netDumpxml(net)).filter((x) => x.ip === before.address)).toEqual([{ mac: macForAddress(before.address), ip: before.address }]);
    await page.goto(`${panel.url}/vps`);
    await page.getByText('No virtual servers yet').waitFor({ timeout: 90_000 });
    expect(errors).toEqual([]);
  });
});
