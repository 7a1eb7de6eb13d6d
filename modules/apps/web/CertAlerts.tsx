import { Alert, Anchor, List, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { api, call } from '@slipway/web';
import type { CertAlert } from './api';

export const certAlertsKey = ['apps', 'cert-alerts'] as const;

export function useCertAlerts() {
  return useQuery({ queryKey: certAlertsKey, queryFn: () => call(api.GET('/api/v1/apps/-/alerts')).then((r) => r.items), refetchInterval: 60_000 });
}

/** Apps whose Let's Encrypt certificate expires soon or has expired (the certificate watch). */
export function CertAlerts({ items, app }: { items: CertAlert[] | undefined; app?: { host: string; name: string } }) {
  const shown = (items ?? []).filter((a) => !app || (a.host === app.host && a.name === app.name));
  if (!shown.length) return null;
  const expired = shown.some((a) => a.kind === 'expired');
  return (
    <Alert color={expired ? 'red' : 'orange'} title={app ? 'Certificate' : 'Certificates need attention'} mb="md" data-testid="cert-alerts">
      {app ? (
        <Text size="sm">{shown[0]!.message}. Dokku renews Let's Encrypt certificates with its cron job (<code>dokku letsencrypt:cron-job --add</code> on the host); see the Domains &amp; TLS tab.</Text>
      ) : (
        <List size="sm" spacing={2}>
          {shown.map((a) => (
            <List.Item key={`${a.host}/${a.name}`}>
              <Anchor component={Link} to="/apps/$appName" params={{ appName: a.name } as never} search={(a.host === 'local' ? { tab: 'domains' } : { host: a.host, tab: 'domains' }) as never} size="sm">{a.name}</Anchor>: {a.message.replace(/^The certificate of \S+ /, '')}
            </List.Item>
          ))}
        </List>
      )}
    </Alert>
  );
}
