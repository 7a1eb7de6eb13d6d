import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSshRunnerFactory, loadOrCreatePanelKey, type ProcessRunner, type SshRunnerFactory,
} from '../../../server/src/testing/index.js';
import { startSshd, type TestSshd } from '../../../server/src/testing/sshd.js';
import { DockerCli, parseSize, parseStatsLine } from './docker.cli.js';
import { LABEL_MANAGED, LABEL_NAMESPACE, LABEL_SERVICE, type StatsSample } from './docker.client.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from './test-fixtures/images.js';

// A "remote" Docker host: the docker CLI through Slipway's SSH runner (a private sshd on loopback,
// driving this machine's engine), as the Docker views do for hosts other than `local`.
describe('docker CLI over SSH (remote hosts)', () => {
  let dataDir: string;
  let sshd: TestSshd;
  let factory: SshRunnerFactory;
  let runner: ProcessRunner;
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const namespace = `slwt_cli_${Math.random().toString(36).slice(2, 8)}`;
  const name = `slw-cli-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    await ensureBusyboxImage(docker);
    dataDir = mkdtempSync(path.join(tmpdir(), 'slipway-dockercli-'));
    const key = loadOrCreatePanelKey(dataDir);
    sshd = await startSshd({ authorizedKeys: [key.publicKey] });
    factory = createSshRunnerFactory({ dataDir });
    runner = await factory({ id: 'h1', name: 'docker-host', kind: 'ssh', address: sshd.address, port: sshd.port, username: sshd.username, hostKeyFingerprint: sshd.hostKeyFingerprint, capabilities: {}, status: 'online', lastCheckedAt: null });
    await docker.createContainer({
      name,
      Image: BUSYBOX_IMAGE,
      Cmd: ['/bin/sh', '-c', 'echo started-and-serving; exec httpd -f -p 80 -h /www'],
      Labels: { [LABEL_MANAGED]: 'true', [LABEL_NAMESPACE]: namespace, [LABEL_SERVICE]: 'svc-1' },
      ExposedPorts: { '80/tcp': {} },
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
  }, 60_000);

  afterAll(async () => {
    await docker.getContainer(name).remove({ force: true }).catch(() => {});
    factory?.close();
    await sshd?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists, inspects, starts, follows logs and stats, stops', async () => {
    const cli = new DockerCli(runner);
    const before = (await cli.listContainers()).find((c) => c.name === name);
    expect(before).toMatchObject({ managed: true, serviceId: 'svc-1', image: BUSYBOX_IMAGE, state: 'created' });
    expect((await cli.listImages()).some((i) => i.tags.includes(BUSYBOX_IMAGE) && i.sizeBytes > 0)).toBe(true);
    expect(await cli.inspect('slw-no-such-container')).toBeNull();

    await cli.start(name);
    const running = (await cli.listContainers()).find((c) => c.name === name)!;
    expect(running.state).toBe('running');
    expect(running.ports[0]).toMatchObject({ containerPort: 80, hostIp: '127.0.0.1', protocol: 'tcp' });
    expect(running.ports[0]!.hostPort).toBeGreaterThan(0);

    const lines: string[] = [];
    const logs = await cli.logs(name, { follow: false, tail: 10 }, (l) => lines.push(l.line));
    await logs.done;
    expect(lines.some((l) => l.endsWith('started-and-serving'))).toBe(true);

    let stats: { stop(): void } | undefined;
    const sample = await new Promise<StatsSample>((resolve) => void cli.stats(name, resolve).then((h) => (stats = h)));
    stats?.stop();
    expect(sample.memoryBytes).toBeGreaterThan(0);

    await cli.stop(name, 1);
    expect((await cli.inspect(name))?.running).toBe(false);
  });

  it('reads docker stats units', () => {
    expect(parseSize('1.5MiB')).toBe(1572864);
    expect(parseSize('12kB')).toBe(12000);
    expect(parseStatsLine('\u001b[2J\u001b[H{"CPUPerc":"3.25%","MemUsage":"1.5MiB / 1GiB","NetIO":"1.2kB / 648B"}')).toMatchObject({ cpuPercent: 3.25, memoryBytes: 1572864, memoryLimitBytes: 1073741824, networkRxBytes: 1200, networkTxBytes: 648 });
  });
});
