import type { Generated } from 'kysely';

/** Core tables. Modules declare their own table interfaces and use `db.withTables<...>()`. */
export interface SettingsTable { key: string; value: string; updated_at: number }

export interface UsersTable {
  id: string;
  username: string;
  email: string;
  password_hash: string;
  role: string;
  status: 'active' | 'suspended';
  must_change_password: number;
  totp_secret: string | null;
  totp_enabled: number;
  totp_last_step: number | null;
  password_changed_at: number;
  last_login_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface RecoveryCodesTable { id: string; user_id: string; code_hash: string; used_at: number | null; created_at: number }

export interface SessionsTable {
  id: string;
  user_id: string;
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
}

export interface RefreshTokensTable {
  id: string;
  session_id: string;
  token_hash: string;
  created_at: number;
  used_at: number | null;
  replaced_by: string | null;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  role: string;
  prefix: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface SshKeysTable { id: string; user_id: string; name: string; public_key: string; fingerprint: string; created_at: number }

export interface LoginThrottleTable {
  key: string;
  failures: number;
  window_started_at: number;
  locked_until: number | null;
  lockouts: Generated<number>;
}

export interface AuditLogTable {
  seq: number;
  id: string;
  at: number;
  actor_id: string | null;
  actor_name: string | null;
  actor_kind: string;
  ip: string | null;
  user_agent: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: string;
  details: string | null;
  prev_hash: string;
  hash: string;
  /** Hash scheme: 1 = SHA-256 (entries from before 0002_security), 2 = HMAC-SHA256 with the audit key. */
  chain: number;
}

/** Single-use sign-in challenges (the mfaToken's jti). */
export interface AuthChallengesTable { id: string; user_id: string; purpose: string; created_at: number; expires_at: number; used_at: number | null }

/** Which owner claims a hostname (migration 0003); see platform/names/hostname-claims.ts. */
export interface HostnameClaimsTable { hostname: string; owner_id: string | null; resources: string; created_at: number; updated_at: number }

export interface JobsTable {
  id: string;
  type: string;
  title: string;
  state: string;
  resource: string | null;
  input: string;
  output: string | null;
  error: string | null;
  steps: string;
  current_step: number;
  progress: number;
  actor_id: string | null;
  actor_name: string | null;
  /** The enqueuing actor's kind and role, so a resumed job runs as the same actor. */
  actor_kind: string;
  actor_role: string;
  cancel_requested: number;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export interface JobLogsTable { job_id: string; seq: number; at: number; stream: string; line: string }

export interface HostsTable {
  id: string;
  name: string;
  kind: 'local' | 'ssh';
  address: string | null;
  port: number | null;
  username: string | null;
  host_key_fingerprint: string | null;
  capabilities: string;
  status: string;
  last_checked_at: number | null;
  created_at: number;
  updated_at: number;
}

/** Panel processes on one database (issue 15); `duties` is a JSON array of machine-local duty names. */
export interface ClusterReplicasTable {
  id: string; address: string; version: string; pid: number; hostname: string;
  started_at: number; heartbeat_at: number; stopped_at: number | null; duties: string;
}
/** Exactly-once schedules: who runs it (until `expires_at`) and when it is next due, for every replica. */
export interface ClusterLeasesTable { name: string; holder: string; expires_at: number; next_run_at: number; runs: number; updated_at: number }
/** Cross-replica message bodies too large for NOTIFY. */
export interface ClusterPayloadsTable { id: string; body: string; created_at: number }

export interface CoreTables {
  settings: SettingsTable;
  users: UsersTable;
  recovery_codes: RecoveryCodesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  api_tokens: ApiTokensTable;
  ssh_keys: SshKeysTable;
  login_throttle: LoginThrottleTable;
  audit_log: AuditLogTable;
  auth_challenges: AuthChallengesTable;
  jobs: JobsTable;
  job_logs: JobLogsTable;
  hosts: HostsTable;
  hostname_claims: HostnameClaimsTable;
  cluster_replicas: ClusterReplicasTable;
  cluster_leases: ClusterLeasesTable;
  cluster_payloads: ClusterPayloadsTable;
}
