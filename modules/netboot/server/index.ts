import { defineEngine, defineModule, ExecError, listenParts, LocalProcessRunner, probeBinary } from '../../../server/src/sdk.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DnsmasqSupervisor } from './dnsmasq.process.js';
import { locateIpxeBootFiles, parseBootBaseUrl, type IpxeBootFiles } from './ipxe.js';
import { NetbootConfig } from './netboot.config.js';
import { NetbootEngine, netbootPaths } from './netboot.engine.js';
import { defineEditJobs, NetbootEdits, registerEditRoutes } from './netboot.edits.js';
import { defineNetbootJobs } from './netboot.jobs.js';
import { netbootMigrations } from './netboot.migrations.js';
import { netbootPermissions } from './netboot.permissions.js';
import { reconcile } from './netboot.reconcile.js';
import { NetbootRepo } from './netboot.repo.js';
import { registerNetbootRoutes } from './netboot.routes.js';
import { NetbootService } from './netboot.service.js';

export interface NetbootRuntime {
  service: NetbootService;
  edits: NetbootEdits;
  engine: NetbootEngine;
  repo: NetbootRepo;
  config: NetbootConfig;
  reconcile(): ReturnType<typeof reconcile>;
}

/** tgtd answering tgtadm (the iSCSI targets). */
export const tgtEngine = defineEngine<NetbootConfig>({
  id: 'tgt',
  title: 'tgt (tgtd + tgtadm)',
  probe: async ({ runner, timeoutMs }) => {
    try {
      await runner.exec('tgtadm', ['--lld', 'iscsi', '--mode', 'sys', '--op', 'show'], { timeoutMs });
      return { ok: true };
    } catch (e) {
      if (e instanceof ExecError && e.isMissingProgram) return { ok: false, reason: 'tgtadm is not installed', fix: 'apt-get install tgt' };
      return { ok: false, reason: `tgtd is not answering (${e instanceof ExecError ? e.userReason : String(e)})`, fix: 'start tgtd (systemctl start tgt, or `tgtd -f &`); the panel needs root to drive it' };
    }
  },
});
export const qsdEngine = defineEngine<NetbootConfig>({
  id: 'qemu-storage-daemon',
  title: 'qemu-storage-daemon',
  probe: ({ runner, timeoutMs }) => probeBinary(runner, 'qemu-storage-daemon', { what: 'qemu-storage-daemon is not installed', fix: 'apt-get install qemu-system-common', timeoutMs }),
});
export const qemuImgEngine = defineEngine<NetbootConfig>({
  id: 'qemu-img',
  title: 'qemu-img',
  probe: ({ runner, timeoutMs }) => probeBinary(runner, 'qemu-img', { what: 'qemu-img is not installed', fix: 'apt-get install qemu-utils', timeoutMs }),
});
export const fuseEngine = defineEngine<NetbootConfig>({
  id: 'fuse',
  title: 'FUSE (fusermount3, /dev/fuse)',
  probe: async (ctx) => {
    if (!existsSync('/dev/fuse')) return { ok: false, reason: '/dev/fuse is missing', fix: 'load the fuse module (modprobe fuse) or give the panel /dev/fuse' };
    return probeBinary(ctx.runner, 'fusermount3', { what: 'fusermount3 is not installed', fix: 'apt-get install fuse3', timeoutMs: ctx.timeoutMs });
  },
});
export const ipxeEngine = defineEngine<NetbootConfig>({
  id: 'ipxe',
  title: 'iPXE boot files',
  optional: true,
  probe: async ({ runner }) => ((await locateIpxeBootFiles(runner))
    ? { ok: true }
    : { ok: false, reason: 'undionly.kpxe / ipxe.efi not found: PXE firmware cannot chainload iPXE (iPXE-native clients still boot)', fix: 'apt-get install ipxe' }),
});
export const dnsmasqEngine = defineEngine<NetbootConfig>({
  id: 'dnsmasq',
  title: 'dnsmasq (proxyDHCP + TFTP)',
  optional: true,
  probe: ({ runner, timeoutMs }) => probeBinary(runner, 'dnsmasq', { what: 'dnsmasq is not installed: no proxyDHCP/TFTP; machines need another way to reach their script', fix: 'apt-get install dnsmasq-base', timeoutMs }),
});

/** Diskless machines over iPXE + iSCSI with per-machine writebacks; `onRuntime` hands its parts to tests and the benchmark. */
export function createNetbootModule(opts: { onRuntime?: (rt: NetbootRuntime) => void } = {}) {
  let supervisor: DnsmasqSupervisor | null = null;
  // with SLIPWAY_NETBOOT_RUN_DNSMASQ the engine's status is the supervised process's
  const dnsmasq = defineEngine<NetbootConfig>({
    ...dnsmasqEngine,
    probe: async (c) => {
      const r = await dnsmasqEngine.probe(c);
      if (!r.ok || !supervisor) return r;
      const st = supervisor.status();
      if (st.state === 'running') return { ok: true, version: `supervised by the panel, pid ${st.pid}, ${st.restarts} restart(s)` };
      if (st.state === 'stopped' && st.reason === null) return r;
      return { ok: false, reason: `the panel's dnsmasq is ${st.state}${st.reason ? `: ${st.reason}` : ''}`, fix: 'see the "dnsmasq (netboot)" log; fix the boot server settings' };
    },
  });
  return defineModule({
    id: 'netboot',
    title: 'Netboot',
    config: NetbootConfig,
    permissions: netbootPermissions,
    navPermission: netbootPermissions.read,
    migrations: netbootMigrations,
    engines: [tgtEngine, qsdEngine, qemuImgEngine, fuseEngine, ipxeEngine, dnsmasq],
    register(ctx) {
      const config = ctx.config;
      const run = new LocalProcessRunner();
      const root = config.dataRoot ?? path.join(ctx.core.dataDir, 'netboot');
      const engine = new NetbootEngine(run, config, netbootPaths(root), ctx.log);
      const chapBox = ctx.secretBox('netboot chap v1');
      engine.openChap = (sealed) => chapBox.open(sealed);
      const repo = new NetbootRepo(ctx.db);
      // On a unix socket the panel sits behind a proxy on port 80/443: machines fetch scripts through it.
      const listenPort = ctx.core.listen.startsWith('unix:') ? null : listenParts(ctx.core.listen).port;
      const bootBaseUrl = config.bootBaseUrl ?? parseBootBaseUrl(`http://${config.serverAddress}${listenPort ? `:${listenPort}` : ''}`);
      let bootFiles: IpxeBootFiles | null = null;
      const paths = netbootPaths(root);
      const sup = config.runDnsmasq
        ? new DnsmasqSupervisor({ confPath: paths.dnsmasqConf, logPath: `${root}/dnsmasq.log`, pidPath: `${root}/dnsmasq.pid`, warn: (msg, details) => ctx.log.warn(details ?? {}, msg) })
        : null;
      supervisor = sup;
      let closing = false;
      let runningConf: string | null = null;
      /** The supervised dnsmasq follows the file: restarted when its contents change, stopped when there is none. */
      const dnsmasqWritten = (present: boolean) => {
        if (!sup || closing) return;
        void (async () => {
          if (!present) {
            runningConf = null;
            return sup.stop();
          }
          const text = await readFile(paths.dnsmasqConf, 'utf8');
          if (text === runningConf && sup.status().state === 'running') return;
          runningConf = text;
          const st = await sup.start();
          if (st.state !== 'running' || st.reason) ctx.log.warn({ dnsmasq: st }, 'netboot: dnsmasq did not take the new config');
        })().catch((err: unknown) => ctx.log.warn({ err }, 'netboot: could not (re)start dnsmasq'));
      };
      if (sup) ctx.logSources.add((hostId) => (hostId === 'local' ? [{ id: 'netboot-dnsmasq', title: 'dnsmasq (netboot)', path: `${root}/dnsmasq.log` }] : []));
      const service = new NetbootService({ repo, engine, jobs: ctx.jobs, audit: ctx.audit, events: ctx.events, config, bootBaseUrl, log: ctx.log, bootFiles: () => bootFiles, dnsmasqWritten, sealChap: (secret) => chapBox.seal(secret) });
      const changed = (id: string) => service.changed(id);
      defineNetbootJobs(ctx.jobs, {
        repo, engine, stepDelayMs: config.sessionStepDelayMs,
        changed: (id) => void changed(id).catch((err: unknown) => ctx.log.warn({ err }, 'netboot: cache refresh failed')),
        imageChanged: (id) => service.imageChanged(id),
      });
      registerNetbootRoutes(ctx.http, service);
      // editing an image as a VM: the vps module's `vm-disk-editor` when it is enabled (ctx.use, never an import)
      const editDeps = { repo, engine, jobs: ctx.jobs, audit: ctx.audit, editor: () => ctx.use('vm-disk-editor'), imageChanged: (id: string) => service.imageChanged(id) };
      defineEditJobs(ctx.jobs, editDeps);
      const edits = new NetbootEdits(editDeps);
      registerEditRoutes(ctx.http, edits);
      const runReconcile = () => reconcile({ repo, engine, jobs: ctx.jobs, log: ctx.log, changed, edits });
      opts.onRuntime?.({ service, edits, engine, repo, config, reconcile: runReconcile });

      ctx.overview.count({ id: 'machines', title: 'Netboot machines', permission: netbootPermissions.read, count: async () => (await repo.machines()).length });
      ctx.onReady(async () => {
        bootFiles = await locateIpxeBootFiles(run);
        await service.loadCache();
        const report = await runReconcile();
        if (report.orphans.length || report.settled.length || report.rebuilt.length || report.edits.length) ctx.log.warn({ report }, 'netboot: reconciled tgt and exports with the database');
        await service.loadCache();
        await service.writeDnsmasq();
      });
      // Logins seen on the targets: status online/since, and a machine's last boot time.
      ctx.schedule('netboot.sessions', config.sessionPollMs, async () => {
        const targets = await engine.targets(0);
        engine.pruneSeen(targets);
        for (const m of await repo.machines()) {
          const conns = engine.connections(targets, m.name);
          const first = Math.min(...conns.map((c) => c.since));
          if (conns.length && (m.lastBootAt === null || first > m.lastBootAt)) await repo.updateMachine(m.id, { lastBootAt: first });
        }
      });
      ctx.schedule('netboot.reconcile', 60_000, async () => {
        await runReconcile();
      });
      ctx.onClose(async () => {
        closing = true;
        await sup?.stop();
        await service.flushScriptTimes();
        service.close();
      });
    },
  });
}

export const netbootModule = createNetbootModule();
