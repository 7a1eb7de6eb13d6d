import { createHash } from 'node:crypto';
import { configure, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { json, mockApi, resetApi, signIn, testUser, type ApiHandler } from '../../../web/src/testing/api-mock';
import { renderWithProviders } from '../../../web/src/testing/render';
import { parseMac } from '../server/netboot.schema';
import { checkMac, type Image, type Machine, type MachineDetail, type Version } from './api';

const params = vi.hoisted(() => ({ current: {} as Record<string, string> }));
vi.mock('@slipway/web', async (original) => ({ ...(await original<typeof import('@slipway/web')>()), usePageParams: () => params.current }));

const { default: MachinesPage } = await import('./MachinesPage');
const { default: MachinePage } = await import('./MachinePage');
const { default: ImagePage } = await import('./ImagePage');
const { UploadDialog } = await import('./ImagesPage');

// The machine is shared by several test runs: give slow renders time.
configure({ asyncUtilTimeout: 5000 });

type Handler = ApiHandler;
const mockFetch = (handler: Handler, permissions = ['netboot.read', 'netboot.operate', 'netboot.manage']) =>
  mockApi(handler, { me: () => testUser({ username: 'ops', role: 'operator', permissions }) });
beforeEach(() => {
  params.current = {};
});
afterEach(resetApi);

const machine = (over: Partial<Machine>): Machine => ({
  id: 'm1', name: 'pc1', mac: '52:54:00:ab:cd:01', fixedIp: null, group: null, state: 'active', imageId: 'img1', versionId: null, effectiveVersionId: 'v1',
  bootMode: 'iscsi', keepWriteback: false, notes: '', status: 'offline', connections: [], session: null, lastScriptAt: null, lastBootAt: null, writeback: null,
  targetIqn: 'iqn.2026-01.io.slipway:netboot:pc1', initiatorIqn: 'iqn.2026-01.io.slipway:netboot:initiator.pc1', chap: { enabled: false, user: null, rotatedAt: null },
  ipxeScriptUrl: 'http://10.0.0.1:8080/api/v1/netboot/boot/52-54-00-ab-cd-01.ipxe?token=[redacted]', createdAt: 0, updatedAt: 0, ...over,
});
const image: Image = {
  id: 'img1', name: 'base-os', status: 'ready', error: null, createdBy: { id: 'me', name: 'ops' }, latestVersionId: 'v2', latestVersion: 2, versionCount: 2,
  sizeBytes: 3 << 20, virtualSize: 16 << 20, createdAt: 0, updatedAt: 0,
};
const version = (over: Partial<Version>): Version => ({
  id: 'v1', number: 1, comment: 'first install', author: { id: 'me', name: 'ops' }, virtualSize: 16 << 20, fileSize: 1 << 20, sha256: null,
  fromMachineId: null, parentVersionId: null, createdAt: 0, latest: false, machines: [], inUse: false, ...over,
});
const imagesApi: Handler = (_req, path) => {
  if (path === '/api/v1/netboot/images') return json(200, { items: [image], disk: { root: '/srv/netboot', freeBytes: 1e10, reserveBytes: 0, usableBytes: 1e10 } });
  if (path === '/api/v1/netboot/images/img1') return json(200, { image, versions: [version({ id: 'v2', number: 2, comment: 'drivers', latest: true }), version({})] });
  return undefined;
};

describe('machines table', () => {
  it('shows each machine\'s live status with the iSCSI login (address, since), its image version, writeback and boot mode', async () => {
    const since = Date.now() - 120_000;
    mockFetch((req, path) => {
      if (path === '/api/v1/netboot/machines') {
        return json(200, { items: [
          machine({ id: 'a', name: 'pc-online', status: 'online', connections: [{ initiator: 'iqn.x:initiator.pc-online', address: '10.0.2.15', since }], writeback: { bytes: 5 << 20, versionId: 'v2' }, effectiveVersionId: 'v2', group: 'lab-1' }),
          machine({ id: 'b', name: 'pc-booting', mac: '52:54:00:ab:cd:02', status: 'booting', lastScriptAt: Date.now() - 3000, versionId: 'v1', bootMode: 'menu' }),
          machine({ id: 'c', name: 'pc-off', mac: '52:54:00:ab:cd:03', imageId: null, effectiveVersionId: null }),
        ] });
      }
      return imagesApi(req, path);
    });
    await signIn();
    renderWithProviders(<MachinesPage />);
    expect(await screen.findByText('pc-online')).toBeTruthy();
    const statuses = [...document.querySelectorAll('tbody [data-status]')].map((b) => b.getAttribute('data-status'));
    expect(statuses).toEqual(['online', 'booting', 'offline']);
    expect(screen.getByText('10.0.2.15 · since 2 minutes ago')).toBeTruthy();
    expect(screen.getByText(/script fetched \d+ seconds ago/)).toBeTruthy();
    expect(screen.getByText('5.0 MB')).toBeTruthy();
    expect(await screen.findByText('base-os v2')).toBeTruthy();
    expect(screen.getByText('base-os v1 (pinned)')).toBeTruthy();
    expect(screen.getByText('iPXE menu')).toBeTruthy();
    expect(screen.getByRole('cell', { name: 'lab-1' })).toBeTruthy();
    // search narrows the table; the filtered empty state says so
    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'cd:02' } });
    expect(screen.queryByText('pc-online')).toBeNull();
    expect(screen.getByText('pc-booting')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'nothing-like-this' } });
    expect(screen.getByText('No machine matches these filters')).toBeTruthy();
  });

  it('shows the empty state with its next step; a reader gets no register or import buttons', async () => {
    mockFetch((req, path) => (path === '/api/v1/netboot/machines' ? json(200, { items: [] }) : imagesApi(req, path)), ['netboot.read']);
    await signIn();
    renderWithProviders(<MachinesPage />);
    expect(await screen.findByText('No machines yet')).toBeTruthy();
    expect(screen.getByText(/unknown MACs show up here as pending/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'New machine' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Import CSV' })).toBeNull();
  });

  it('CSV import shows the server\'s problem for each line (nothing imported)', async () => {
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/netboot/machines' && req.method === 'GET') return json(200, { items: [] });
      if (path === '/api/v1/netboot/machines/import') {
        return json(400, { error: { code: 'validation_failed', message: '2 line(s) of the CSV are not valid; nothing was imported', details: { issues: [
          { line: 3, message: 'mac: a multicast MAC address is not a machine' }, { line: 4, message: 'name pc1 appears twice in the file' },
        ] } } });
      }
      return imagesApi(req, path);
    });
    await signIn();
    renderWithProviders(<MachinesPage />);
    fireEvent.click(await screen.findByRole('button', { name: 'Import CSV' }));
    fireEvent.change(await screen.findByLabelText('CSV'), { target: { value: 'name,mac\npc1,52:54:00:00:00:01\npc2,01:00:5e:00:00:01\npc1,52:54:00:00:00:03' } });
    fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    const box = await screen.findByTestId('import-errors');
    expect(within(box).getByText('line 3')).toBeTruthy();
    expect(within(box).getByText('mac: a multicast MAC address is not a machine')).toBeTruthy();
    expect(within(box).getByText('line 4')).toBeTruthy();
    expect(within(box).getByText('name pc1 appears twice in the file')).toBeTruthy();
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ csv: 'name,mac\npc1,52:54:00:00:00:01\npc2,01:00:5e:00:00:01\npc1,52:54:00:00:00:03' });
  });
});

describe('MAC address field', () => {
  it('checks a MAC exactly as the server does', () => {
    const inputs = ['52:54:00:AB:CD:01', '52-54-00-ab-cd-01', '5254.00ab.cd01', '525400abcd01', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '01:00:5e:00:00:01', '33:33:00:00:00:01',
      '52:54:00:ab:cd', '52:54-00:ab:cd:01', '52:54:00:ab:cd:0g', '-52:54:00:ab:cd:01', '52:54:00:ab:cd:01;id', '52:54:00:ab:cd:01\n', '５2:54:00:ab:cd:01', '', ' ', '52:54:00:ab:cd:01:02'];
    for (const input of inputs) {
      let server: string;
      try {
        server = parseMac(input);
      } catch (e) {
        server = `! ${(e as Error).message}`;
      }
      const web = checkMac(input);
      const webText = 'mac' in web ? web.mac : `! ${web.problem}`;
      // the form trims what is typed and names an empty field "required"; otherwise the same verdict, word for word
      if (input.trim() === input && input) expect(webText, JSON.stringify(input)).toBe(server);
      else expect(server.startsWith('!'), JSON.stringify(input)).toBe(true);
    }
  });

  it('shows the problem at the field and sends nothing; a valid MAC is sent normalised; a duplicate from the server lands at the field', async () => {
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/netboot/machines' && req.method === 'GET') return json(200, { items: [] });
      if (path === '/api/v1/netboot/machines' && req.method === 'POST') {
        return json(409, { error: { code: 'conflict', message: 'MAC 52:54:00:ab:cd:01 is already used by machine pc9', details: { field: 'mac', machine: { id: 'x', name: 'pc9' } } } });
      }
      return imagesApi(req, path);
    });
    await signIn();
    renderWithProviders(<MachinesPage />);
    fireEvent.click(await screen.findByRole('button', { name: 'New machine' }));
    const name = await screen.findByLabelText(/^Name/);
    const mac = screen.getByLabelText(/^MAC address/);
    fireEvent.change(name, { target: { value: 'pc1' } });
    const submit = screen.getByRole('button', { name: 'Register machine' });
    for (const [bad, message] of [['ff:ff:ff:ff:ff:ff', 'the broadcast MAC address is not a machine'], ['01:00:5e:00:00:01', 'a multicast MAC address is not a machine'], ['52:54:00:zz:00:01', 'a MAC address is six hex octets such as 52:54:00:12:34:56']] as const) {
      fireEvent.change(mac, { target: { value: bad } });
      fireEvent.click(submit);
      const err = await screen.findByText(message);
      expect(mac.getAttribute('aria-describedby') ?? '').toContain(err.id);
      expect(mac.getAttribute('aria-invalid')).toBe('true');
    }
    expect(calls.some((c) => c.method === 'POST')).toBe(false);

    fireEvent.change(mac, { target: { value: '52-54-00-AB-CD-01' } });
    fireEvent.click(submit);
    const dup = await screen.findByText('MAC 52:54:00:ab:cd:01 is already used by machine pc9');
    expect(mac.getAttribute('aria-describedby') ?? '').toContain(dup.id);
    expect(calls.find((c) => c.method === 'POST')!.body).toMatchObject({ name: 'pc1', mac: '52:54:00:ab:cd:01', imageId: null, bootMode: 'iscsi', keepWriteback: false });
  });
});

describe('machine page', () => {
  const detail = (over: Partial<MachineDetail> = {}): MachineDetail => ({
    ...machine({ status: 'online', writeback: { bytes: 7 << 20, versionId: 'v2' }, effectiveVersionId: 'v2', connections: [{ initiator: 'iqn.x:initiator.pc1', address: '10.0.2.15', since: Date.now() - 5000 }] }),
    session: { id: 's1', machineId: 'm1', machineName: 'pc1', versionId: 'v2', state: 'ready', tid: 1001, targetIqn: 'iqn.x:pc1', initiatorIqn: 'iqn.x:initiator.pc1', jobId: 'j1', error: null, startedAt: Date.now() - 60_000, readyAt: Date.now() - 58_000, stoppedAt: null, connections: [] },
    history: [], ...over,
  });

  it('commit needs a comment: none is refused at the field; with one it is sent', async () => {
    params.current = { machineId: 'm1' };
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/netboot/machines/m1') return json(200, { machine: detail() });
      if (path === '/api/v1/netboot/machines/m1/writeback/commit') return json(202, { job: { id: 'j2', title: 'Commit writeback of pc1' }, versionId: 'v3' });
      return imagesApi(req, path);
    });
    await signIn();
    renderWithProviders(<MachinePage />);
    expect(await screen.findByText('10.0.2.15', { exact: false })).toBeTruthy();
    // a running session uses the writeback: discard waits for the stop
    expect((screen.getByRole('button', { name: 'Discard' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Commit as new version…' }));
    const dialog = await screen.findByRole('dialog');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Commit' }));
    const err = await within(dialog).findByText(/A comment is required/);
    const box = within(dialog).getByLabelText(/^Comment/);
    expect(box.getAttribute('aria-describedby') ?? '').toContain(err.id);
    fireEvent.change(box, { target: { value: '   ' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Commit' }));
    expect(await within(dialog).findByText(/A comment is required/)).toBeTruthy();
    expect(calls.some((c) => c.path.endsWith('/commit'))).toBe(false);
    fireEvent.change(box, { target: { value: 'installed the driver update' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Commit' }));
    await waitFor(() => expect(calls.some((c) => c.path.endsWith('/commit'))).toBe(true));
    expect(calls.find((c) => c.path.endsWith('/commit'))).toMatchObject({ method: 'POST', body: { comment: 'installed the driver update' } });
  });

  it('discard asks first; without netboot.operate there is no session, commit or discard button; the token stays hidden', async () => {
    params.current = { machineId: 'm1' };
    mockFetch((req, path) => (path === '/api/v1/netboot/machines/m1' ? json(200, { machine: detail({ session: null, status: 'offline', connections: [] }) }) : imagesApi(req, path)), ['netboot.read']);
    await signIn();
    renderWithProviders(<MachinePage />);
    expect(await screen.findByTestId('ipxe-url')).toBeTruthy();
    expect(screen.getByTestId('ipxe-url').textContent).toContain('token=[redacted]');
    expect(screen.getByText(/token is shown to users with netboot.manage only/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Copy the script URL' })).toBeNull();
    for (const b of ['Start session', 'Stop session', 'Commit as new version…', 'Discard', 'Edit', 'Delete', 'Wake', 'Rotate token…']) expect(screen.queryByRole('button', { name: b })).toBeNull();
  });

  it('Wake sends the packet and says where it went; Rotate token asks first, then posts', async () => {
    params.current = { machineId: 'm1' };
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/netboot/machines/m1') return json(200, { machine: detail({ session: null, status: 'offline', connections: [] }) });
      if (path === '/api/v1/netboot/machines/m1/wake') return json(200, { sent: { address: '10.0.2.255', port: 9, bytes: 102 } });
      if (path === '/api/v1/netboot/machines/m1/token') return json(200, { machine: detail({ session: null }) });
      return imagesApi(req, path);
    });
    await signIn();
    renderWithProviders(<MachinePage />);
    fireEvent.click(await screen.findByRole('button', { name: 'Wake' }));
    expect(await screen.findByText(/packet sent to 10\.0\.2\.255:9/)).toBeTruthy();
    expect(calls.filter((c) => c.path.endsWith('/wake'))).toHaveLength(1);
    fireEvent.click(screen.getByRole('button', { name: 'Rotate token…' }));
    const dialog = await screen.findByRole('dialog');
    expect(calls.some((c) => c.path.endsWith('/token'))).toBe(false);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Rotate token' }));
    await waitFor(() => expect(calls.find((c) => c.path.endsWith('/token'))).toMatchObject({ method: 'POST' }));
  });
});

describe('image page', () => {
  it('a version in use is refused: the 409 names the machines using it, each linked', async () => {
    params.current = { imageId: 'img1' };
    mockFetch((req, path) => {
      if (path === '/api/v1/netboot/machines') return json(200, { items: [machine({}), machine({ id: 'm2', name: 'pc2', mac: '52:54:00:ab:cd:02' })] });
      if (path === '/api/v1/netboot/images/img1/versions/v1' && req.method === 'DELETE') {
        return json(409, { error: { code: 'conflict', message: 'Version 1 is in use by 2 machine(s): pc1, pc2', details: { machines: [{ id: 'm1', name: 'pc1' }, { id: 'm2', name: 'pc2' }] } } });
      }
      return imagesApi(req, path);
    });
    await signIn();
    renderWithProviders(<ImagePage />);
    expect(await screen.findByText('first install')).toBeTruthy();
    expect(screen.getByText('drivers')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Delete v1' }));
    fireEvent.click(within(await screen.findByRole('dialog')).getByRole('button', { name: 'Delete version' }));
    const alert = await screen.findByTestId('in-use');
    expect(within(alert).getByText('v1 was not deleted')).toBeTruthy();
    expect(within(alert).getByText('Version 1 is in use by 2 machine(s): pc1, pc2')).toBeTruthy();
    expect(within(alert).getByRole('link', { name: 'pc1' }).getAttribute('href')).toBe('/netboot/machines/m1');
    expect(within(alert).getByRole('link', { name: 'pc2' }).getAttribute('href')).toBe('/netboot/machines/m2');
  });

  it('rollback pins the chosen machines to the earlier version', async () => {
    params.current = { imageId: 'img1' };
    const calls = mockFetch((req, path) => {
      if (path === '/api/v1/netboot/machines' && req.method === 'GET') return json(200, { items: [machine({}), machine({ id: 'm2', name: 'pc2', mac: '52:54:00:ab:cd:02' })] });
      if (req.method === 'PATCH') return json(200, { machine: machine({}) });
      return imagesApi(req, path);
    });
    await signIn();
    renderWithProviders(<ImagePage />);
    fireEvent.click(await screen.findByRole('button', { name: 'Roll back to…' }));
    const dialog = await screen.findByRole('dialog');
    fireEvent.click(within(dialog).getByLabelText(/pc2/));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Pin to v1' }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(1));
    expect(calls.find((c) => c.method === 'PATCH')).toMatchObject({ path: '/api/v1/netboot/machines/m1', body: { versionId: 'v1' } });
  });
});

/** A stand-in XMLHttpRequest: records what is sent, lets the test drive progress and the answer. */
class FakeXhr {
  static last: FakeXhr | null = null;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown;
  status = 0;
  responseText = '';
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k.toLowerCase()] = v;
  }
  send(body: unknown) {
    this.body = body;
  }
  abort() {
    this.onabort?.();
  }
  getAllResponseHeaders() {
    return '';
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

const fileInput = () => waitFor(() => {
  const el = document.querySelector('input[type="file"]');
  if (!el) throw new Error('no file input yet');
  return el as HTMLInputElement;
});

describe('image upload', () => {
  it('sends the file itself as application/octet-stream with its SHA-256, shows the progress, then the conversion job', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    mockFetch(() => undefined);
    await signIn('tok-1');
    renderWithProviders(<UploadDialog opened onClose={() => {}} />);
    const bytes = new Uint8Array(4096).fill(7);
    const file = new File([bytes], 'Win11 Lab.qcow2', { type: '' });
    const input = await fileInput();
    fireEvent.change(input, { target: { files: [file] } });
    const name = await screen.findByLabelText(/^Name/);
    expect((name as HTMLInputElement).value).toBe('win11-lab');
    fireEvent.change(name, { target: { value: '../etc' } });
    fireEvent.click(screen.getByRole('button', { name: 'Upload' }));
    expect(await screen.findByText(/lower-case letters, digits/)).toBeTruthy();
    expect(FakeXhr.last).toBeNull();
    fireEvent.change(name, { target: { value: 'win11-lab' } });
    fireEvent.click(screen.getByRole('button', { name: 'Upload' }));
    await waitFor(() => expect(FakeXhr.last).not.toBeNull());
    const xhr = FakeXhr.last!;
    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe('/api/v1/netboot/images?name=win11-lab');
    expect(xhr.headers['content-type']).toBe('application/octet-stream');
    expect(xhr.headers.authorization).toBe('Bearer tok-1');
    expect(xhr.body).toBe(file);
    expect(xhr.headers['x-checksum-sha256']).toBe(createHash('sha256').update(bytes).digest('hex'));
    xhr.upload.onprogress!({ loaded: 1024, total: 4096, lengthComputable: true });
    expect(await screen.findByText(/1.0 KB of 4.0 KB · 25%/)).toBeTruthy();
    expect(screen.getByRole('progressbar', { name: 'Upload 25%' })).toBeTruthy();
    xhr.answer(202, { image: { ...image, id: 'img9', name: 'win11-lab', status: 'converting' }, job: { id: 'job9', title: 'Import netboot image' } });
    expect(await screen.findByText('win11-lab uploaded')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'follow the conversion' }).getAttribute('href')).toBe('/jobs/job9');
    FakeXhr.last = null;
  });

  it('shows the server\'s refusal (a backing file) in the dialog', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    mockFetch(() => undefined);
    renderWithProviders(<UploadDialog opened onClose={() => {}} />);
    fireEvent.change(await fileInput(), { target: { files: [new File([new Uint8Array(10)], 'evil.qcow2')] } });
    fireEvent.click(await screen.findByRole('button', { name: 'Upload' }));
    await waitFor(() => expect(FakeXhr.last).not.toBeNull());
    FakeXhr.last!.answer(400, { error: { code: 'image_refused', message: 'The image names a backing file (/etc/shadow): only self-contained images are accepted' } });
    expect(await screen.findByText(/names a backing file/)).toBeTruthy();
    expect(screen.getByText('The upload was refused')).toBeTruthy();
    FakeXhr.last = null;
  });
});
