import { Alert, Button, Group, NumberInput, Paper, Radio, Select, Stack, Stepper, Switch, Text, TextInput } from '@mantine/core';
import { useNavigate } from '@tanstack/react-router';
import { useMemo, useState } from 'react';
import { JobProgress, LogViewer, PageHeader, api, call, domainNameProblem, notifyError, useCurrentHost, useJobLog } from '@slipway/web';
import { CACHE_TYPES, PHP_VERSIONS, SITE_TYPES, WP_TYPES, cacheLabel, typeLabel, type CacheType, type CreateSiteBody, type SiteType } from './api';

// The same rules as the server's schema, so the wizard only offers what WordOps accepts.
export const domainProblem = (d: string) => domainNameProblem(d, { noun: 'domain', example: 'example.com' });
const USER = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,59}$/;
const EMAIL = /^[A-Za-z0-9][A-Za-z0-9.+_-]*@[A-Za-z0-9][A-Za-z0-9._-]*\.[A-Za-z]{2,}$/;
const DNS = /^dns_[a-z0-9_]{1,30}$/;

/** Create-site wizard: type → options valid for that type → SSL → review; then the job's live log. */
export default function NewSitePage() {
  const host = useCurrentHost();
  const navigate = useNavigate();
  const [step, setStep] = useState(0);
  const [domain, setDomain] = useState('');
  const [type, setType] = useState<SiteType>('wp');
  const [php, setPhp] = useState<(typeof PHP_VERSIONS)[number] | null>('8.3');
  const [cache, setCache] = useState<CacheType>('basic');
  const [adminUser, setAdminUser] = useState('');
  const [adminEmail, setAdminEmail] = useState('');
  const [proxyHost, setProxyHost] = useState('127.0.0.1');
  const [proxyPort, setProxyPort] = useState<number | string>(8080);
  const [le, setLe] = useState<CreateSiteBody['letsencrypt']>('off');
  const [dnsProvider, setDnsProvider] = useState('dns_cf');
  const [hsts, setHsts] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [jobId, setJobId] = useState<string | undefined>();
  const { buffer, job, status } = useJobLog(jobId);

  const wp = WP_TYPES.includes(type);
  const hasPhp = type !== 'html' && type !== 'proxy';
  const problems = useMemo(() => {
    const p: Record<string, string | null> = {};
    p.domain = domainProblem(domain);
    if (wp && adminUser && !USER.test(adminUser)) p.adminUser = 'Letters, digits, _ . @ - (not starting with a symbol)';
    if (wp && adminEmail && !EMAIL.test(adminEmail)) p.adminEmail = 'An e-mail address';
    if (type === 'proxy' && !/^[a-z0-9.-]+$/.test(proxyHost)) p.proxyHost = 'An IPv4 address or host name';
    if (type === 'proxy' && !(Number(proxyPort) >= 1 && Number(proxyPort) <= 65535)) p.proxyPort = '1–65535';
    if (le === 'wildcard' && !DNS.test(dnsProvider)) p.dnsProvider = 'An acme.sh DNS API such as dns_cf';
    return p;
  }, [domain, wp, adminUser, adminEmail, type, proxyHost, proxyPort, le, dnsProvider]);
  const stepValid = [!problems.domain, !problems.adminUser && !problems.adminEmail && !problems.proxyHost && !problems.proxyPort, !problems.dnsProvider, true];

  const body = (): CreateSiteBody => ({
    domain: domain.trim().toLowerCase(),
    host,
    type,
    ...(hasPhp && php ? { php } : {}),
    ...(wp ? { cache } : {}),
    ...(wp && adminUser ? { adminUser } : {}),
    ...(wp && adminEmail ? { adminEmail } : {}),
    ...(type === 'proxy' ? { proxy: { host: proxyHost, port: Number(proxyPort) } } : {}),
    letsencrypt: le,
    ...(le === 'wildcard' ? { dnsProvider } : {}),
    hsts: le !== 'off' && hsts,
  });

  const create = async () => {
    setSubmitting(true);
    try {
      const { job: started } = await call(api.POST('/api/v1/sites', { body: body() }));
      setJobId(started.id);
      setStep(4);
    } catch (e) {
      notifyError(e);
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <>
      <PageHeader title="New site" description={`On host ${host}. WordOps runs the creation as a job; its output appears live below.`} />
      <Stepper active={step} onStepClick={(s) => (s < step && !jobId ? setStep(s) : undefined)} mb="lg" size="sm">
        <Stepper.Step label="Domain and type">
          <Stack maw={560}>
            <TextInput label="Domain" placeholder="example.com" value={domain} onChange={(e) => setDomain(e.currentTarget.value)} error={domain ? problems.domain : null} data-autofocus />
            <Radio.Group label="Site type" value={type} onChange={(v) => setType(v as SiteType)}>
              <Stack gap={6} mt={6}>
                {SITE_TYPES.map((t) => <Radio key={t.value} value={t.value} label={t.label} description={t.hint} />)}
              </Stack>
            </Radio.Group>
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Options">
          <Stack maw={560}>
            {hasPhp && <Select label="PHP version" data={PHP_VERSIONS.map((v) => ({ value: v, label: `PHP ${v}` }))} value={php} onChange={(v) => setPhp(v as (typeof PHP_VERSIONS)[number] | null)} />}
            {wp && (
              <>
                <Select label="Page cache" data={CACHE_TYPES.map((c) => ({ value: c.value, label: c.label }))} value={cache} onChange={(v) => setCache((v ?? 'basic') as CacheType)} />
                <TextInput label="WordPress admin user" description="Leave empty for WordOps' default" value={adminUser} onChange={(e) => setAdminUser(e.currentTarget.value)} error={problems.adminUser} />
                <TextInput label="WordPress admin e-mail" description="Leave empty for WordOps' default" value={adminEmail} onChange={(e) => setAdminEmail(e.currentTarget.value)} error={problems.adminEmail} />
              </>
            )}
            {type === 'proxy' && (
              <Group grow>
                <TextInput label="Backend host" value={proxyHost} onChange={(e) => setProxyHost(e.currentTarget.value)} error={problems.proxyHost} />
                <NumberInput label="Backend port" min={1} max={65535} value={proxyPort} onChange={setProxyPort} error={problems.proxyPort} />
              </Group>
            )}
            {type === 'html' && <Text size="sm" c="dimmed">An HTML site has no PHP, database or cache options.</Text>}
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="SSL">
          <Stack maw={560}>
            <Radio.Group label="Let's Encrypt certificate" value={le} onChange={(v) => setLe(v as CreateSiteBody['letsencrypt'])}>
              <Stack gap={6} mt={6}>
                <Radio value="off" label="No certificate" />
                <Radio value="on" label="Domain (and www)" description="HTTP validation: the domain must point at this host" />
                <Radio value="subdomain" label="This subdomain only" />
                <Radio value="wildcard" label="Wildcard (*.domain) through a DNS API" />
              </Stack>
            </Radio.Group>
            {le === 'wildcard' && <TextInput label="acme.sh DNS API" description="Its credentials must be set on the host" value={dnsProvider} onChange={(e) => setDnsProvider(e.currentTarget.value)} error={problems.dnsProvider} />}
            {le !== 'off' && <Switch label="HSTS (browsers insist on HTTPS for a year)" checked={hsts} onChange={(e) => setHsts(e.currentTarget.checked)} />}
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Review">
          <Paper withBorder p="md" maw={560}>
            <Stack gap={4}>
              <Text><b>{domain.trim().toLowerCase()}</b> on {host}</Text>
              <Text size="sm">Type: {typeLabel(type)}</Text>
              {hasPhp && <Text size="sm">PHP {php}</Text>}
              {wp && <Text size="sm">Cache: {cacheLabel(cache)}</Text>}
              {type === 'proxy' && <Text size="sm">Proxy to {proxyHost}:{proxyPort}</Text>}
              <Text size="sm">SSL: {le === 'off' ? 'none' : `Let's Encrypt (${le})${hsts ? ', HSTS' : ''}`}</Text>
            </Stack>
          </Paper>
        </Stepper.Step>
        <Stepper.Completed>
          <Stack>
            {job && <JobProgress job={job} />}
            {job?.state === 'failed' && <Alert color="red" title="Creation failed">{job.error}</Alert>}
            <LogViewer buffer={buffer} status={status} fileName={`create-${domain}.log`} height={360} />
            {job?.state === 'succeeded' && (
              <Group>
                <Button onClick={() => void navigate({ to: '/sites/$siteId', params: { siteId: domain.trim().toLowerCase() } })}>Open site</Button>
              </Group>
            )}
          </Stack>
        </Stepper.Completed>
      </Stepper>
      {step < 4 && (
        <Group>
          {step > 0 && <Button variant="default" onClick={() => setStep(step - 1)}>Back</Button>}
          {step < 3 && <Button disabled={!stepValid[step]} onClick={() => setStep(step + 1)}>Next</Button>}
          {step === 3 && <Button loading={submitting} onClick={create}>Create site</Button>}
        </Group>
      )}
    </>
  );
}
