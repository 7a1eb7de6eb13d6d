import { z } from 'zod';
import { IdParam } from '../../http/schemas.js';
import type { HttpApp } from '../module.js';
import { corePermissions } from '../rbac/core-permissions.js';
import type { ApiTokenService } from './api-tokens.service.js';
import * as S from './auth.schemas.js';
import type { SettingsService } from './settings.service.js';
import type { SshKeyService } from './ssh-keys.service.js';
import type { UsersService } from './users.service.js';

export interface UsersRouteDeps { users: UsersService; settings: SettingsService; apiTokens: ApiTokenService; sshKeys: SshKeyService }

/** People: users (admin), panel security settings, personal API tokens and SSH keys. */
export function registerUsersRoutes(app: HttpApp, d: UsersRouteDeps): void {
  const P = corePermissions;
  const tags = ['users'];

  app.get('/users', { config: { permission: P['users.read'] }, schema: { operationId: 'listUsers', summary: 'List users', tags, querystring: S.UserListQuery, response: { 200: S.UserList } } },
    async (req) => d.users.list(req.actor, req.query));

  app.post('/users', { config: { permission: P['users.manage'] }, schema: { operationId: 'createUser', summary: 'Create a user', tags, body: S.CreateUserBody, response: { 201: S.UserCreated } } },
    async (req, reply) => reply.code(201).send(await d.users.create(req.actor, req.body)));

  app.get('/users/:id', { config: { permission: P['users.read'] }, schema: { operationId: 'getUser', summary: 'One user', tags, params: IdParam, response: { 200: S.UserResponse } } },
    async (req) => ({ user: await d.users.get(req.actor, req.params.id) }));

  app.patch('/users/:id', { config: { permission: P['users.manage'] }, schema: { operationId: 'updateUser', summary: 'Change a user\'s name, email or role', tags, params: IdParam, body: S.UpdateUserBody, response: { 200: S.UserResponse } } },
    async (req) => ({ user: await d.users.update(req.actor, req.params.id, req.body) }));

  app.delete('/users/:id', { config: { permission: P['users.delete'] }, schema: { operationId: 'deleteUser', summary: 'Delete a user', tags, params: IdParam, body: S.DeleteUserBody, response: { 204: z.null() } } },
    async (req, reply) => {
      await d.users.delete(req.actor, req.params.id, req.body.confirm);
      return reply.code(204).send(null);
    });

  app.post('/users/:id/suspend', { config: { permission: P['users.manage'] }, schema: { operationId: 'suspendUser', tags, summary: 'Suspend (ends sessions, revokes API tokens)', params: IdParam, response: { 200: S.UserResponse } } },
    async (req) => ({ user: await d.users.setSuspended(req.actor, req.params.id, true) }));

  app.post('/users/:id/unsuspend', { config: { permission: P['users.manage'] }, schema: { operationId: 'unsuspendUser', summary: 'Lift a user\'s suspension', tags, params: IdParam, response: { 200: S.UserResponse } } },
    async (req) => ({ user: await d.users.setSuspended(req.actor, req.params.id, false) }));

  app.post('/users/:id/reset-password', {
    config: { permission: P['users.manage'] },
    schema: { operationId: 'resetUserPassword', tags, summary: 'Set a temporary password (given, or generated and shown once); the user must change it', params: IdParam, body: S.ResetPasswordBody, response: { 200: S.UserCreated } },
  }, async (req) => d.users.resetPassword(req.actor, req.params.id, req.body?.password));

  app.post('/users/:id/reset-2fa', { config: { permission: P['users.manage'] }, schema: { operationId: 'resetUserTwoFactor', tags, summary: 'Turn off the user\'s 2FA (lost device)', params: IdParam, response: { 200: S.UserResponse } } },
    async (req) => ({ user: await d.users.resetTwoFactor(req.actor, req.params.id) }));

  app.get('/settings/security', { config: { permission: P['settings.manage'] }, schema: { operationId: 'getSecuritySettings', summary: 'The panel\'s security settings', tags: ['settings'], response: { 200: S.SecuritySettingsBody } } },
    async () => d.settings.security());

  app.put('/settings/security', { config: { permission: P['settings.manage'] }, schema: { operationId: 'updateSecuritySettings', summary: 'Change the panel\'s security settings', tags: ['settings'], body: S.SecuritySettingsBody, response: { 200: S.SecuritySettingsBody } } },
    async (req) => d.settings.updateSecurity(req.actor, req.body));

  app.get('/api-tokens', { config: { authenticated: true }, schema: { operationId: 'listApiTokens', summary: 'My API tokens (never their secrets)', tags: ['api-tokens'], response: { 200: S.ApiTokenList } } },
    async (req) => ({ items: await d.apiTokens.list(req.actor) }));

  app.post('/api-tokens', { config: { authenticated: true }, schema: { operationId: 'createApiToken', tags: ['api-tokens'], summary: 'Create a token (shown once)', body: S.CreateApiTokenBody, response: { 201: S.ApiTokenCreated } } },
    async (req, reply) => reply.code(201).send(await d.apiTokens.create(req.actor, req.body)));

  app.delete('/api-tokens/:id', { config: { authenticated: true }, schema: { operationId: 'revokeApiToken', summary: 'Revoke one of my API tokens', tags: ['api-tokens'], params: IdParam, response: { 204: z.null() } } },
    async (req, reply) => {
      await d.apiTokens.revoke(req.actor, req.params.id);
      return reply.code(204).send(null);
    });

  app.get('/ssh-keys', { config: { authenticated: true }, schema: { operationId: 'listSshKeys', summary: 'My SSH public keys', tags: ['ssh-keys'], response: { 200: S.SshKeyList } } },
    async (req) => ({ items: await d.sshKeys.list(req.actor) }));

  app.post('/ssh-keys', { config: { authenticated: true }, schema: { operationId: 'addSshKey', summary: 'Add an SSH public key', tags: ['ssh-keys'], body: S.AddSshKeyBody, response: { 201: S.SshKeyResponse } } },
    async (req, reply) => reply.code(201).send({ sshKey: await d.sshKeys.add(req.actor, req.body) }));

  app.delete('/ssh-keys/:id', { config: { authenticated: true }, schema: { operationId: 'deleteSshKey', summary: 'Remove an SSH public key', tags: ['ssh-keys'], params: IdParam, response: { 204: z.null() } } },
    async (req, reply) => {
      await d.sshKeys.remove(req.actor, req.params.id);
      return reply.code(204).send(null);
    });
}
