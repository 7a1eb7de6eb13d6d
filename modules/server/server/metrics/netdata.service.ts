import { type Actor, authorize, type HostRegistry, LOCAL_HOST_ID } from '../../../../server/src/sdk.js';
import { serverPermissions } from '../server.permissions.js';
import { localNetdataFetch, NetdataClient, remoteNetdataFetch, type NetdataSeries } from './netdata.client.js';

/** Netdata per host: the configured URL locally, the host's own loopback agent over SSH otherwise. */
export class NetdataService {
  private readonly clients = new Map<string, NetdataClient>();

  constructor(private readonly hosts: HostRegistry, private readonly localUrl: string) {}

  async info(actor: Actor, hostId: string): Promise<{ available: boolean; apiVersion: number | null; agentVersion: string | null; error: string | null }> {
    authorize(actor, serverPermissions['netdata.read']);
    try {
      const r = await (await this.client(hostId)).detect();
      return { available: true, apiVersion: r.apiVersion, agentVersion: r.agentVersion, error: null };
    } catch (e) {
      return { available: false, apiVersion: null, agentVersion: null, error: (e as Error).message };
    }
  }

  async data(actor: Actor, hostId: string, chart: string, seconds: number, points: number): Promise<NetdataSeries> {
    authorize(actor, serverPermissions['netdata.read']);
    return (await this.client(hostId)).data(chart, seconds, points);
  }

  private async client(hostId: string): Promise<NetdataClient> {
    await this.hosts.get(hostId);
    let c = this.clients.get(hostId);
    if (!c) {
      c = new NetdataClient(hostId === LOCAL_HOST_ID ? localNetdataFetch(this.localUrl) : remoteNetdataFetch(await this.hosts.runner(hostId)));
      this.clients.set(hostId, c);
    }
    return c;
  }

  forget(hostId: string): void {
    this.clients.delete(hostId);
  }
}
