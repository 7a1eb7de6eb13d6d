import { z } from 'zod';
import { ROLES } from '../rbac/roles.js';
import { PASSWORD_MAX_LENGTH } from './passwords.js';
import { API_TOKEN_MAX_DAYS } from './api-tokens.service.js';
import { SecuritySettings } from './settings.service.js';

/** Text that ends up in a query: no control characters (PostgreSQL refuses NUL bytes outright). */
const PlainText = /^[^\x00-\x1f\x7f]*$/;

/** Request and response shapes of the auth, users, token and key routes (they feed the OpenAPI document). */
export const Username = z.string().trim().toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._-]{1,31}$/, '2–32 characters: letters, digits, dot, underscore, hyphen; starting with a letter or digit');
export const Email = z.string().trim().toLowerCase().max(254).pipe(z.email('expected an e-mail address'));
/** The policy (length, common, username) is checked by the service so the message names the rule. */
export const Password = z.string().min(1, 'required').max(PASSWORD_MAX_LENGTH, `at most ${PASSWORD_MAX_LENGTH} characters`);
export const RoleName = z.enum(ROLES);

export const UserView = z.object({
  id: z.string(), username: z.string(), email: z.string(), role: RoleName, status: z.enum(['active', 'suspended']),
  totpEnabled: z.boolean(), mustChangePassword: z.boolean(), lastLoginAt: z.number().nullable(), createdAt: z.number(), updatedAt: z.number(),
});

export const SetupStatus = z.object({ required: z.boolean() });
export const SetupBody = z.object({ token: z.string().min(1).max(200), username: Username, email: Email, password: Password });

/** JSON sign-in, or the OAuth2 password form (grant_type=password) used by the API docs page. */
export const LoginBody = z.object({
  username: z.string().min(1).max(254).regex(PlainText, 'no control characters'),
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
  grant_type: z.literal('password').optional(),
  scope: z.string().max(200).optional(),
  client_id: z.string().max(200).optional(),
  client_secret: z.string().max(200).optional(),
});
export const MfaBody = z.object({
  mfaToken: z.string().min(1).max(2000),
  code: z.string().regex(/^\d{6}$/, 'six digits').optional(),
  recoveryCode: z.string().min(1).max(40).optional(),
}).refine((b) => (b.code === undefined) !== (b.recoveryCode === undefined), { message: 'give either code or recoveryCode', path: ['code'] });

export const LoginOk = z.object({
  status: z.literal('ok'), accessToken: z.string(), tokenType: z.literal('Bearer'), expiresIn: z.number(), refreshToken: z.string(), user: UserView,
  access_token: z.string().optional(), token_type: z.string().optional(), expires_in: z.number().optional(),
});
export const LoginMfaRequired = z.object({ status: z.literal('mfa_required'), mfaToken: z.string() });
export const LoginResponse = z.union([LoginOk, LoginMfaRequired]);

export const RefreshBody = z.object({ refreshToken: z.string().min(1).max(200).optional() }).nullish();
export const TokenPair = z.object({ accessToken: z.string(), tokenType: z.literal('Bearer'), expiresIn: z.number(), refreshToken: z.string() });

export const MeResponse = z.object({
  user: z.object({
    id: z.string(), username: z.string(), email: z.string(), role: RoleName, totpEnabled: z.boolean(), mustChangePassword: z.boolean(),
    permissions: z.array(z.string()), require2fa: z.boolean(),
  }),
});
export const ChangePasswordBody = z.object({ currentPassword: z.string().min(1).max(PASSWORD_MAX_LENGTH), newPassword: Password });

export const SessionItem = z.object({ id: z.string(), ip: z.string().nullable(), userAgent: z.string().nullable(), device: z.string(), createdAt: z.number(), lastSeenAt: z.number(), current: z.boolean() });
export const SessionList = z.object({ items: z.array(SessionItem) });

export const EnrollResponse = z.object({ secret: z.string(), otpauthUri: z.string() });
export const CodeBody = z.object({ code: z.string().regex(/^\d{6}$/, 'six digits') });
export const RecoveryCodes = z.object({ recoveryCodes: z.array(z.string()) });
export const DisableBody = z.object({ password: z.string().min(1).max(PASSWORD_MAX_LENGTH), code: z.string().min(6).max(40) });

export const UserListQuery = z.object({
  search: z.string().max(100).regex(PlainText, 'no control characters').optional(),
  role: RoleName.optional(),
  status: z.enum(['active', 'suspended']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export const UserList = z.object({ items: z.array(UserView), total: z.number() });
export const CreateUserBody = z.object({ username: Username, email: Email, role: RoleName, password: Password.optional(), mustChangePassword: z.boolean().optional() });
export const UserCreated = z.object({ user: UserView, temporaryPassword: z.string().nullable() });
export const UpdateUserBody = z.object({ email: Email.optional(), role: RoleName.optional() }).refine((b) => b.email !== undefined || b.role !== undefined, { message: 'nothing to change' });
export const DeleteUserBody = z.object({ confirm: z.string().min(1).max(100) });
export const ResetPasswordBody = z.object({ password: Password.optional() }).nullish();
export const UserResponse = z.object({ user: UserView });

export const SecuritySettingsBody = SecuritySettings;

export const ApiTokenView = z.object({ id: z.string(), name: z.string(), role: RoleName, prefix: z.string(), createdAt: z.number(), expiresAt: z.number(), lastUsedAt: z.number().nullable() });
export const CreateApiTokenBody = z.object({
  name: z.string().trim().min(1).max(100).regex(/^[^\x00-\x1f]+$/, 'no control characters'),
  role: RoleName,
  expiresInDays: z.number().int().min(1).max(API_TOKEN_MAX_DAYS),
});
export const ApiTokenCreated = z.object({ token: z.string(), apiToken: ApiTokenView });
export const ApiTokenList = z.object({ items: z.array(ApiTokenView) });

export const SshKeyView = z.object({ id: z.string(), name: z.string(), type: z.string(), fingerprint: z.string(), publicKey: z.string(), createdAt: z.number() });
export const AddSshKeyBody = z.object({ name: z.string().trim().min(1).max(100).regex(/^[^\x00-\x1f]+$/, 'no control characters'), publicKey: z.string().min(20).max(16_384) });
export const SshKeyList = z.object({ items: z.array(SshKeyView) });
export const SshKeyResponse = z.object({ sshKey: SshKeyView });
