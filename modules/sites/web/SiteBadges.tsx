import { Badge, Group, Tooltip } from '@mantine/core';
import { formatTime } from '@slipway/web';
import { cacheLabel, type Site } from './api';

/** The SSL state with days left: red when expired, orange within 14 days. */
export function SslBadge({ ssl }: { ssl: Site['ssl'] }) {
  if (!ssl.enabled) return <Badge color="gray" variant="light">no SSL</Badge>;
  const days = ssl.daysLeft;
  const color = days === null ? 'green' : days < 0 ? 'red' : days <= 14 ? 'orange' : 'green';
  const text = days === null ? 'SSL' : days < 0 ? 'SSL expired' : `SSL ${days} d`;
  return (
    <Tooltip label={ssl.expiresAt ? `Expires ${formatTime(ssl.expiresAt)}` : 'Expiry not checked yet'}>
      <Badge color={color} variant="light">{text}</Badge>
    </Tooltip>
  );
}

export function SiteBadges({ site }: { site: Site }) {
  return (
    <Group gap={4} wrap="wrap">
      <SslBadge ssl={site.ssl} />
      {site.php && <Badge color="indigo" variant="light">PHP {site.php}</Badge>}
      {site.cache && site.cache !== 'basic' && <Badge color="teal" variant="light">{cacheLabel(site.cache)}</Badge>}
      {!site.enabled && <Badge color="gray">disabled</Badge>}
    </Group>
  );
}
