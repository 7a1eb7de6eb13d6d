import { Anchor, Text } from '@mantine/core';
import { Link } from '@tanstack/react-router';

export interface AuditTargetLike { type: string; id: string; name?: string }

/** Where a target lives in the console (null when it has no page). Ids such as `host:domain` keep their last part. */
export function targetHref(t: AuditTargetLike): string | null {
  const last = t.id.includes(':') ? t.id.slice(t.id.indexOf(':') + 1) : t.id;
  const enc = encodeURIComponent;
  switch (t.type) {
    case 'site': return `/sites/${enc(last)}`;
    case 'container': return `/containers/${enc(t.id)}`;
    case 'app': return `/apps/${enc(last)}`;
    case 'vps': return `/vps/${enc(t.id)}`;
    case 'netboot-machine': return `/netboot/machines/${enc(t.id)}`;
    case 'netboot-image': return `/netboot/images/${enc(t.id)}`;
    case 'job': return `/jobs/${enc(t.id)}`;
    case 'user': return '/users';
    case 'host': return '/server/hosts';
    default: return null;
  }
}

const TYPE_WORDS: Record<string, string> = { container: 'service', vps: 'server', 'netboot-machine': 'machine', 'netboot-image': 'image', api_token: 'API token', ssh_key: 'SSH key', 'docker-container': 'container', vps_image: 'image', vps_plan: 'plan' };

/** "service shop" rather than "container 0190a1b2-…": the name when the entry has one, linked to its page. */
export function targetText(t: AuditTargetLike): string {
  const label = t.name ?? (t.id.includes(':') ? t.id.slice(t.id.indexOf(':') + 1) : /^[0-9a-f]{8}-/.test(t.id) ? `${t.id.slice(0, 8)}…` : t.id);
  return `${TYPE_WORDS[t.type] ?? t.type} ${label}`;
}

export function AuditTarget({ target, size = 'sm' }: { target: AuditTargetLike | null; size?: 'xs' | 'sm' }) {
  if (!target) return <Text size={size} span>—</Text>;
  const href = targetHref(target);
  const text = targetText(target);
  return href ? (
    <Anchor component={Link} to={href} size={size} underline="always" title={`${target.type} ${target.id}`} onClick={(e: React.MouseEvent) => e.stopPropagation()}>{text}</Anchor>
  ) : <Text size={size} span title={`${target.type} ${target.id}`}>{text}</Text>;
}
