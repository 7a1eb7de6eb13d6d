import { z } from 'zod';
import { IdParam, Ok } from '../../http/schemas.js';
import type { HttpApp } from '../module.js';
import { corePermissions } from '../rbac/core-permissions.js';
import { ConnectionTest, CreateHost, Host, HostResponse, ProbeHost, UpdateHost } from './hosts.schema.js';
import type { HostsService } from './hosts.service.js';

/** `/api/v1/hosts`: the local host plus remote hosts over SSH (fingerprint confirmed, then pinned). */
export function registerHostRoutes(app: HttpApp, hosts: HostsService, panelPublicKey: () => string): void {
  const read = { permission: corePermissions['hosts.read'] };
  const manage = { permission: corePermissions['hosts.manage'] };
  const tags = ['hosts'];

  app.get('/hosts', { config: read, schema: { operationId: 'listHosts', summary: 'List managed hosts', tags, response: { 200: z.object({ items: z.array(Host) }) } } }, async (req) => ({ items: await hosts.list(req.actor) }));

  app.get('/hosts/ssh-key', {
    config: manage,
    schema: { operationId: 'getPanelSshKey', summary: 'The panel\'s SSH public key', tags, description: 'The panel\'s SSH public key: add it to `~/.ssh/authorized_keys` of the user the panel logs in as.', response: { 200: z.object({ publicKey: z.string() }) } },
  }, async () => ({ publicKey: panelPublicKey() }));

  app.post('/hosts/probe', {
    config: manage,
    schema: { operationId: 'probeHost', summary: 'Read a host\'s SSH key before adding it', tags, description: 'Step 1 of adding a host: the host key it presents, to compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host.', body: ProbeHost, response: { 200: z.object({ fingerprint: z.string(), keyType: z.string(), panelPublicKey: z.string() }) } },
  }, async (req) => ({ ...(await hosts.probe(req.actor, req.body.address, req.body.port)), panelPublicKey: panelPublicKey() }));

  app.post('/hosts', {
    config: manage,
    schema: { operationId: 'createHost', summary: 'Add a host with its confirmed key pinned', tags, description: 'Step 2: adds the host with the confirmed fingerprint pinned, after a successful login.', body: CreateHost, response: { 201: HostResponse } },
  }, async (req, reply) => reply.code(201).send({ host: await hosts.create(req.actor, req.body) }));

  app.get('/hosts/:id', { config: read, schema: { operationId: 'getHost', summary: 'One host', tags, params: IdParam, response: { 200: HostResponse } } }, async (req) => ({ host: await hosts.get(req.actor, req.params.id) }));

  app.patch('/hosts/:id', {
    config: manage,
    schema: { operationId: 'updateHost', summary: 'Change a host\'s name, address, user or pinned key', tags, description: 'Changing the address, user or pinned fingerprint logs in again first.', params: IdParam, body: UpdateHost, response: { 200: HostResponse } },
  }, async (req) => ({ host: await hosts.update(req.actor, req.params.id, req.body) }));

  app.delete('/hosts/:id', { config: manage, schema: { operationId: 'deleteHost', summary: 'Remove a host', tags, params: IdParam, response: { 200: Ok } } }, async (req) => {
    await hosts.remove(req.actor, req.params.id);
    return { ok: true as const };
  });

  app.post('/hosts/:id/test', { config: manage, schema: { operationId: 'testHost', summary: 'Test the connection to a host', tags, params: IdParam, response: { 200: ConnectionTest } } }, async (req) => hosts.test(req.actor, req.params.id));

  app.post('/hosts/:id/capabilities', {
    config: manage,
    schema: { operationId: 'detectHostCapabilities', summary: 'Detect again what a host offers', tags, description: 'Detects again what the host offers (wo, dokku, docker, virsh, tgtadm, live systemd, Netdata, Caddy).', params: IdParam, response: { 200: HostResponse } },
  }, async (req) => ({ host: await hosts.detect(req.actor, req.params.id) }));
}
