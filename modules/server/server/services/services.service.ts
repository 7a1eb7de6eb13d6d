import {
  type Actor, type AuditLog, authorize, DomainRuleError, type EventBus, ExecError, ForbiddenError,
  type HostRegistry, NotFoundError, UnavailableError,
} from '../../../../server/src/sdk.js';
import { serverPermissions } from '../server.permissions.js';
import { SystemctlCli, UNIT_NAME, type UnitAction, type UnitStatus } from './systemctl.cli.js';

/** Turns `php*-fpm` into a matcher for `php8.2-fpm.service`; only `*` and `?` are special. */
export function globToRegExp(pattern: string): RegExp {
  const withSuffix = /\.(service|socket|timer|target)$/.test(pattern) ? pattern : `${pattern}.service`;
  const body = withSuffix.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[A-Za-z0-9:_.@-]*').replace(/\?/g, '[A-Za-z0-9:_.@-]');
  return new RegExp(`^${body}$`);
}

/** Allow-listed units on a host: the patterns expanded against what `systemctl` lists there. */
export function expandAllowlist(patterns: readonly string[], units: readonly string[]): string[] {
  const matchers = patterns.map(globToRegExp);
  return units.filter((u) => UNIT_NAME.test(u) && matchers.some((m) => m.test(u))).sort();
}

/** `nginx` and `nginx.service` name the same unit. */
export const normalizeUnit = (name: string) => (/\.(service|socket|timer|target)$/.test(name) ? name : `${name}.service`);

/** A host that cannot be reached (SSH down) is a 503 with the reason, not a server error. */
async function unreachableAs503<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ExecError && (e.reason === 'spawn' || e.reason === 'timeout')) throw new UnavailableError(`The host did not answer: ${e.message}`);
    throw e;
  }
}

export interface ServicesView {
  hostId: string;
  systemd: { live: boolean; state: string };
  allowlist: string[];
  items: UnitStatus[];
}

export class ServicesService {
  constructor(
    private readonly hosts: HostRegistry,
    private readonly audit: AuditLog,
    private readonly events: EventBus,
    private readonly allowlistFor: (hostName: string) => string[],
  ) {}

  async list(actor: Actor, hostId: string): Promise<ServicesView> {
    authorize(actor, serverPermissions['services.read']);
    const { cli, patterns } = await this.context(hostId);
    return unreachableAs503(async () => {
      const systemd = await cli.isLive();
      if (!systemd.live) return { hostId, systemd, allowlist: patterns, items: [] };
      const units = expandAllowlist(patterns, await cli.listServiceUnits());
      return { hostId, systemd, allowlist: patterns, items: await cli.show(units) };
    });
  }

  /** The allow-listed units present on a host ([] without a live systemd). No permission check: internal use. */
  async allowedUnits(hostId: string): Promise<string[]> {
    const { cli, patterns } = await this.context(hostId);
    if (!(await cli.isLive()).live) return [];
    return expandAllowlist(patterns, await cli.listServiceUnits());
  }

  /**
   * Resolves a requested unit name against the host's expanded allow-list. Anything else is
   * refused here, before any command runs; the name passed on is the listed one, not the input.
   */
  async resolveUnit(hostId: string, requested: string): Promise<{ cli: SystemctlCli; unit: string }> {
    if (!UNIT_NAME.test(requested)) throw new ForbiddenError(`Unit ${JSON.stringify(requested.slice(0, 80))} is not an allowed service`, 'unit_not_allowed');
    const { cli, patterns } = await this.context(hostId);
    const wanted = normalizeUnit(requested);
    if (!patterns.map(globToRegExp).some((m) => m.test(wanted))) throw new ForbiddenError(`Unit ${wanted} is not in the service allow-list`, 'unit_not_allowed');
    const systemd = await unreachableAs503(() => cli.isLive());
    if (!systemd.live) throw new DomainRuleError(`systemd is not running on this host (state: ${systemd.state})`, 'systemd_unavailable');
    const unit = expandAllowlist(patterns, await unreachableAs503(() => cli.listServiceUnits())).find((u) => u === wanted);
    if (!unit) throw new NotFoundError('Service', wanted);
    return { cli, unit };
  }

  async status(actor: Actor, hostId: string, name: string): Promise<UnitStatus> {
    authorize(actor, serverPermissions['services.read']);
    const { cli, unit } = await this.resolveUnit(hostId, name);
    const [s] = await cli.show([unit]);
    if (!s) throw new NotFoundError('Service', unit);
    return s;
  }

  async act(actor: Actor, hostId: string, name: string, action: UnitAction): Promise<UnitStatus> {
    authorize(actor, action === 'restart' || action === 'reload' ? serverPermissions['services.restart'] : serverPermissions['services.manage']);
    const { cli, unit } = await this.resolveUnit(hostId, name);
    const target = { type: 'service', id: `${hostId}:${unit}` };
    try {
      await cli.act(action, unit);
    } catch (e) {
      await this.audit.record({ actor, action: `server.service.${action}`, target, outcome: 'failure', details: { hostId, unit, error: e instanceof Error ? e.message : String(e) } });
      if (e instanceof ExecError) throw new DomainRuleError(`systemctl ${action} ${unit} failed: ${e.stderr.trim().slice(0, 500) || e.message}`, 'service_action_failed', { exitCode: e.exitCode });
      throw e;
    }
    const [s] = await cli.show([unit]);
    await this.audit.record({ actor, action: `server.service.${action}`, target, details: { hostId, unit, activeState: s?.activeState, subState: s?.subState } });
    this.events.publish({ type: 'server.service.changed', resource: target, data: { action, activeState: s?.activeState } });
    return s!;
  }

  private async context(hostId: string): Promise<{ cli: SystemctlCli; patterns: string[] }> {
    const host = await this.hosts.get(hostId);
    return { cli: new SystemctlCli(await this.hosts.runner(hostId)), patterns: this.allowlistFor(host.name) };
  }
}
