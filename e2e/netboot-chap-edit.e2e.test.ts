import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netbootTestEnv, uniqueTestIds } from '../modules/netboot/server/test-fixtures/runners.js';
import { parseShowTargets } from '../modules/netboot/server/tgt.cli.js';
import { Writebacks } from '../modules/netboot/server/writeback.js';
import { LocalProcessRunner } from '../server/src/infra/process-runner.js';
import { QemuImg } from '../server/src/infra/qemu-img.js';
import { createFirstAdmin, launchChromium, shot, signInThroughForm, watchErrors } from './browser.js';
import { buildWeb, startPanel, type Panel } from './panel.js';

/**
 * Issue 13 in Chromium against a real panel (netboot only, real tgtd): a machine with iSCSI CHAP
 * (user shown, secret never), rotation behind a confirmation while its target runs (tgt gets the
 * new account), CHAP refused at the switch while the session runs, and the image page's "Edit
 * image as VM" card saying why it is not available when no module provides the VM editor.
 */
const ADMIN = { username: 'admin', email: 'admin@example.test', password: 'Harbour-Lantern-Quietly-42' };
const run = new LocalProcessRunner();
const ids = uniqueTestIds();
const prefix = `iqn.2026-01.io.slipway.test:${ids.tag}`;
const name = `${ids.tag}-chap`;
let panel: Panel;
let browser: Browser;
let page: Page;
let errors: string[];
let fixtures: string;
let token = '';

const tgtOurs = async () => parseShowTargets((await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout).filter((x) => x.iqn.startsWith(`${prefix}:`));
const apiCall = async (method: string, url: string, body?: unknown) => {
  const res = await fetch(`${panel.url}/api/v1${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body instanceof Buffer ? { 'content-type': 'application/octet-stream' } : body ? { 'content-type': 'application/json' } : {}) }, body: body instanceof Buffer ? body : body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: await res.json().catch(() => ({})) as Record<string, any> };
};

beforeAll(async () => {
  fixtures = await mkdtemp('/tmp/slw-nbce2e-');
  await writeFile(`${fixtures}/d.raw`, Buffer.from('disk'));
  await truncate(`${fixtures}/d.raw`, 4 * 1024 * 1024);
  buildWeb();
  panel = await startPanel({ SLIPWAY_MODULES: 'netboot', ...netbootTestEnv(ids) });
  await createFirstAdmin(panel.setupUrl, ADMIN);
  const login = await fetch(`${panel.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ADMIN.username, password: ADMIN.password }) });
  token = ((await login.json()) as { accessToken: string }).accessToken;
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1366, height: 900 }, colorScheme: 'light' })).newPage();
  page.setDefaultTimeout(60_000); // CI runs the e2e files beside every other project on 2 cores
  errors = watchErrors(page);
  await signInThroughForm(page, panel.url, ADMIN);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  for (const x of await tgtOurs().catch(() => [])) await run.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force', '--tid', String(x.tid)]).catch(() => {});
  if (panel) {
    const wb = new Writebacks(run, { dir: `${panel.dataDir}/netboot/wb`, qemuImg: new QemuImg(run, { root: `${panel.dataDir}/netboot` }) });
    for (const r of await wb.list().catch(() => [])) await wb.stop(r.name).catch(() => {});
  }
  await panel?.stop();
  if (fixtures) await rm(fixtures, { recursive: true, force: true });
});

describe('issue 13: CHAP and image editing in the console', () => {
  let machineId = '';
  let imageId = '';

  it('a CHAP machine shows its user, never its secret; rotation asks first and replaces the running target\'s account', async () => {
    const up = await apiCall('POST', '/netboot/images?name=chap-os', await readFile(`${fixtures}/d.raw`));
    expect(up.status).toBe(202);
    imageId = up.body.image.id;
    await expect.poll(async () => (await apiCall('GET', `/netboot/images/${imageId}`)).body.image?.status, { timeout: 60_000 }).toBe('ready');
    const m = await apiCall('POST', '/netboot/machines', { name, mac: '52:54:00:e2:c0:01', imageId, chap: true });
    expect(m.status).toBe(201);
    machineId = m.body.machine.id;
    const s = await apiCall('POST', `/netboot/machines/${machineId}/session`);
    expect(s.status).toBe(202);
    await expect.poll(async () => (await apiCall('GET', `/netboot/machines/${machineId}`)).body.machine.session?.state, { timeout: 60_000 }).toBe('ready');
    const user = m.body.machine.chap.user as string;
    expect((await tgtOurs())[0]!.accounts).toEqual([user]);

    await page.goto(`${panel.url}/netboot/machines/${machineId}`);
    await page.getByRole('heading', { name }).waitFor();
    const card = page.getByTestId('chap-card');
    await card.getByText(user).waitFor();
    await card.getByText(/never shown/).waitFor();
    await card.scrollIntoViewIfNeeded();
    await shot(page, '13', 'chap-machine');

    const scriptBefore = await (await fetch(m.body.machine.ipxeScriptUrl.replace(/^http:\/\/[^/]+/, panel.url))).text();
    await card.getByRole('button', { name: 'Rotate CHAP secret…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(/running target gets the new secret at once/).waitFor();
    await shot(page, '13', 'chap-rotate-confirm');
    await dialog.getByRole('button', { name: 'Rotate CHAP secret' }).click();
    await page.getByText('CHAP secret rotated').waitFor();
    const scriptAfter = await (await fetch(m.body.machine.ipxeScriptUrl.replace(/^http:\/\/[^/]+/, panel.url))).text();
    const pw = (t: string) => /^set password (\S+)$/m.exec(t)?.[1];
    expect(pw(scriptBefore)).toMatch(/^[0-9a-f]{32}$/);
    expect(pw(scriptAfter)).toMatch(/^[0-9a-f]{32}$/);
    expect(pw(scriptAfter)).not.toBe(pw(scriptBefore));
    expect(await page.content()).not.toContain(pw(scriptAfter)!);
  });

  it('turning CHAP off while the session runs is refused at the switch', async () => {
    const card = page.getByTestId('chap-card');
    // the switch's input is visually hidden (a zero-size box a pointer click misses): click it directly
    await card.getByRole('switch', { name: /Require CHAP/ }).dispatchEvent('click');
    await card.getByText(/stop it before turning CHAP off/).waitFor();
    await shot(page, '13', 'chap-refused-at-field');
    expect((await apiCall('GET', `/netboot/machines/${machineId}`)).body.machine.chap.enabled).toBe(true);
  });

  it('"Edit image as VM" says why it is unavailable when no module provides the VM editor', async () => {
    await page.goto(`${panel.url}/netboot/images/${imageId}`);
    const card = page.getByTestId('edit-as-vm');
    await card.getByTestId('editor-unavailable').waitFor();
    await card.getByText(/no enabled module provides vm-disk-editor/).waitFor();
    expect(await card.getByRole('button', { name: 'Edit image as VM' }).count()).toBe(0);
    await shot(page, '13', 'edit-unavailable');
    expect(errors).toEqual([]);
  });
});
