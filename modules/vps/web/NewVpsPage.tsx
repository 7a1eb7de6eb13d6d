import { Alert, Anchor, Button, Checkbox, Group, Paper, Radio, Select, SimpleGrid, Stack, Stepper, Switch, Text, TextInput, Textarea } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from '@tanstack/react-router';
import { useMemo, useState } from 'react';
import { ApiError, JobProgress, LogViewer, PageHeader, api, call, errorText, notifyError, otherIssuesText, useCan, useJobLog, useMe } from '@slipway/web';
import { fieldErrors, hostnameProblem, perms, sizeText, userDataProblem, type CreateVpsBody, type Image, type Plan, type SshKey } from './api';
import { useIsStaff, useUsers } from './hooks';

const USER_DATA_EXAMPLE = `#cloud-config
packages:
  - htop
runcmd:
  - echo "hello from cloud-init" > /etc/motd
`;

/** Which wizard step shows a field (server errors send the user back there). */
const STEP_OF: Record<string, number> = { hostname: 0, planId: 0, imageId: 0, sshKeyIds: 1, sshKeys: 1, userData: 1, network: 2, expiresAt: 2, ownerId: 2, dnsName: 2, start: 2 };

/** Create-server wizard: plan + image + name → access (keys, user-data) → placement options → review; then the job's live log. */
export default function NewVpsPage() {
  const navigate = useNavigate();
  const me = useMe();
  const staff = useIsStaff();
  const canExpiry = useCan(perms.expiry);
  const users = useUsers();
  const [step, setStep] = useState(0);
  const [hostname, setHostname] = useState('');
  const [planId, setPlanId] = useState<string | null>(null);
  const [imageId, setImageId] = useState<string | null>(null);
  const [keyIds, setKeyIds] = useState<string[]>([]);
  const [userData, setUserData] = useState('');
  const [network, setNetwork] = useState<'public' | 'private'>('public');
  const [dnsName, setDnsName] = useState('');
  const [expires, setExpires] = useState('');
  const [ownerId, setOwnerId] = useState<string | null>(null);
  const [start, setStart] = useState(true);
  const [submitting, setSubmitting] = useState(false);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [created, setCreated] = useState<{ jobId: string; vpsId: string } | null>(null);
  const { buffer, job, status } = useJobLog(created?.jobId);

  const plans = useQuery({ queryKey: ['vps', 'plans'], queryFn: () => call(api.GET('/api/v1/vps/plans')) });
  const images = useQuery({ queryKey: ['vps', 'images'], queryFn: () => call(api.GET('/api/v1/vps/images')) });
  const keys = useQuery({ queryKey: ['ssh-keys'], queryFn: () => call(api.GET('/api/v1/ssh-keys')) });
  const plan = plans.data?.items.find((p) => p.id === planId);
  const ready = (images.data?.items ?? []).filter((i) => i.status === 'ready');
  const image = ready.find((i) => i.id === imageId);
  const otherOwner = staff && ownerId && ownerId !== me?.id;

  const problems = useMemo(() => {
    const p: Record<string, string | null> = {};
    p.hostname = hostnameProblem(hostname);
    p.planId = planId ? null : 'Choose a plan';
    p.imageId = !imageId ? 'Choose an image' : image && plan && image.minDiskGb > plan.diskGb ? `${image.name} needs at least ${image.minDiskGb} GB of disk; the plan has ${plan.diskGb}` : null;
    p.userData = userDataProblem(userData);
    p.dnsName = dnsName && !/^(?=.{3,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i.test(dnsName.trim()) ? 'A fully qualified host name, e.g. web1.example.com' : null;
    p.expiresAt = expires && !(new Date(expires).getTime() > Date.now()) ? 'A date in the future' : null;
    return p;
  }, [hostname, planId, imageId, image, plan, userData, dnsName, expires]);
  const err = (f: string) => serverErrors[f] ?? (f === 'hostname' && !hostname ? null : problems[f]) ?? null;
  const stepValid = [!problems.hostname && !problems.planId && !problems.imageId, !problems.userData, !problems.dnsName && !problems.expiresAt, true];

  const body = (): CreateVpsBody => ({
    hostname: hostname.trim(),
    planId: planId!,
    imageId: imageId!,
    sshKeyIds: otherOwner ? [] : keyIds,
    ...(userData.trim() ? { userData } : {}),
    network,
    ...(dnsName.trim() ? { dnsName: dnsName.trim().toLowerCase() } : {}),
    ...(expires ? { expiresAt: new Date(expires).getTime() } : {}),
    start,
    ...(otherOwner ? { ownerId } : {}),
  });

  const create = async () => {
    setSubmitting(true);
    setServerErrors({});
    setProblem(null);
    try {
      const r = await call(api.POST('/api/v1/vps', { body: body() }));
      setCreated({ jobId: r.job.id, vpsId: r.vps.id });
      setStep(4);
    } catch (e) {
      const f = fieldErrors(e);
      if (Object.keys(f).length) {
        setServerErrors(f);
        const first = Math.min(...Object.keys(f).map((k) => STEP_OF[k] ?? 3));
        setStep(first);
        // A problem with no field in the wizard is said plainly on the last step, never lost.
        setProblem(otherIssuesText(e, Object.keys(STEP_OF)));
      } else if (e instanceof ApiError) setProblem(errorText(e));
      else notifyError(e);
    } finally {
      setSubmitting(false);
    }
  };
  const clear = (f: string) => serverErrors[f] && setServerErrors(({ [f]: _drop, ...rest }) => rest);

  return (
    <>
      <PageHeader title="New server" description="A virtual machine from a plan and an image, seeded by cloud-init (NoCloud) with your SSH keys and user-data" />
      <Stepper active={step} onStepClick={(s) => (s < step && !created ? setStep(s) : undefined)} mb="lg" size="sm">
        <Stepper.Step label="Plan and image">
          <Stack maw={760}>
            <TextInput label="Hostname" description="Lowercase letters, digits and hyphens (the guest's hostname)" placeholder="web1" required value={hostname} error={err('hostname')}
              onChange={(e) => { setHostname(e.currentTarget.value.trim()); clear('hostname'); }} data-autofocus />
            <Radio.Group label="Plan" required value={planId} onChange={(v) => { setPlanId(v); clear('planId'); }} error={serverErrors.planId}>
              {plans.data && !plans.data.items.length && <Alert color="yellow" mt={6}>No plan exists yet{staff ? ': create one under Plans first.' : '.'}</Alert>}
              <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }} mt={6}>
                {(plans.data?.items ?? []).map((p) => (
                  <Radio.Card key={p.id} value={p.id} p="sm" radius="md" withBorder aria-label={p.name}>
                    <Group wrap="nowrap" align="flex-start">
                      <Radio.Indicator />
                      <div>
                        <Text fw={600}>{p.name}{!p.public && <Text span size="xs" c="dimmed"> · private</Text>}</Text>
                        <Text size="sm">{sizeText(p)}</Text>
                        <Text size="xs" c="dimmed">{p.bandwidthGb ? `${p.bandwidthGb} GB traffic/month` : 'unmetered'} · {p.maxSnapshots} snapshot{p.maxSnapshots === 1 ? '' : 's'}{p.priceLabel ? ` · ${p.priceLabel}` : ''}</Text>
                      </div>
                    </Group>
                  </Radio.Card>
                ))}
              </SimpleGrid>
            </Radio.Group>
            {staff && <Text size="xs" c="dimmed">Custom sizes: a plan can be private (not offered to customers); roles with plan management create one under Plans.</Text>}
            <Select
              label="Image"
              required
              placeholder={images.data && !ready.length ? 'No ready image yet' : 'Choose an image'}
              data={ready.map((i) => ({ value: i.id, label: `${i.name}${i.os ? ` (${i.os}${i.version ? ` ${i.version}` : ''})` : ''}${i.cloudInit ? '' : ' · no cloud-init'}`, disabled: !!plan && i.minDiskGb > plan.diskGb }))}
              value={imageId}
              onChange={(v) => { setImageId(v); clear('imageId'); }}
              error={serverErrors.imageId ?? (imageId ? problems.imageId : null)}
            />
            {image && !image.cloudInit && <Alert color="yellow">This image does not run cloud-init: the SSH keys and user-data will not be applied.</Alert>}
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Access">
          <Stack maw={760}>
            {otherOwner ? (
              <Text size="sm" c="dimmed">SSH keys come from the owner's saved keys; when creating for another user, add keys in the user-data instead.</Text>
            ) : (
              <Checkbox.Group label="SSH keys" description={<>Your saved keys (<Anchor component={Link} to="/account" size="xs">manage them on your account page</Anchor>)</>} value={keyIds} onChange={(v) => { setKeyIds(v); clear('sshKeyIds'); }} error={serverErrors.sshKeyIds ?? serverErrors.sshKeys}>
                <Stack gap={6} mt={6}>
                  {keys.data && !keys.data.items.length && <Text size="sm" c="dimmed">You have no saved SSH keys: the server can only be reached on its console until you add one in the user-data.</Text>}
                  {(keys.data?.items ?? []).map((k) => <Checkbox key={k.id} value={k.id} label={`${k.name} · ${k.type}`} description={k.fingerprint} />)}
                </Stack>
              </Checkbox.Group>
            )}
            <Textarea
              label="Cloud-init user-data"
              description={<>Optional. A full <Text span ff="monospace" size="xs">#cloud-config</Text> YAML document (at most 64 KiB); the keys above and the hostname are merged into it. Scripts, #include and MIME archives are refused.</>}
              placeholder={USER_DATA_EXAMPLE}
              rows={12}
              resize="vertical"
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 13 } }}
              spellCheck={false}
              value={userData}
              onChange={(e) => { setUserData(e.currentTarget.value); clear('userData'); }}
              error={err('userData')}
            />
            {!userData && <Group><Button size="xs" variant="default" onClick={() => setUserData(USER_DATA_EXAMPLE)}>Start from an example</Button></Group>}
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Options">
          <Stack maw={760}>
            <Radio.Group label="Network" value={network} onChange={(v) => setNetwork(v as 'public' | 'private')} error={serverErrors.network}>
              <Stack gap={6} mt={6}>
                <Radio value="public" label="Public" description="The public network (NAT or bridge): reachable as the provider configured it" />
                <Radio value="private" label="Private only" description={`An isolated network of ${otherOwner ? "the owner's" : 'your'} servers; no outside access`} />
              </Stack>
            </Radio.Group>
            <TextInput label="DNS name" description="Optional: a fully qualified name claimed for the owner across the panel" placeholder="web1.example.com" value={dnsName} onChange={(e) => { setDnsName(e.currentTarget.value); clear('dnsName'); }} error={err('dnsName')} />
            {staff && users.list.length > 0 && (
              <Select label="Owner" description="Create the server for another user (their quota applies)" searchable data={users.list.map((u) => ({ value: u.id, label: `${u.username} (${u.role})` }))} value={ownerId ?? me?.id ?? null} onChange={(v) => { setOwnerId(v); clear('ownerId'); }} error={serverErrors.ownerId} />
            )}
            {(staff || canExpiry) && (
              <TextInput type="datetime-local" label="Expires" description="Optional: shut down (or suspended) at this time, deleted after the grace period unless renewed" value={expires} onChange={(e) => { setExpires(e.currentTarget.value); clear('expiresAt'); }} error={err('expiresAt')} />
            )}
            <Switch label="Start the server once it is created" checked={start} onChange={(e) => setStart(e.currentTarget.checked)} />
          </Stack>
        </Stepper.Step>
        <Stepper.Step label="Review">
          <Stack maw={760}>
            {problem && <Alert color="red" title="The server was not created">{problem}</Alert>}
            <Paper withBorder p="md">
              <Stack gap={4}>
                <Text><b>{hostname}</b>{dnsName ? ` (${dnsName.trim().toLowerCase()})` : ''}</Text>
                {plan && <Text size="sm">Plan {plan.name}: {sizeText(plan)}</Text>}
                {image && <Text size="sm">Image {image.name}</Text>}
                <Text size="sm">SSH keys: {otherOwner ? 'none (another owner)' : keyIds.length ? (keys.data?.items ?? []).filter((k) => keyIds.includes(k.id)).map((k) => k.name).join(', ') : 'none'}</Text>
                <Text size="sm">User-data: {userData.trim() ? `${userData.split('\n').length} lines of #cloud-config` : 'none'}</Text>
                <Text size="sm">Network: {network === 'public' ? 'public' : 'private only'}</Text>
                {otherOwner && <Text size="sm">Owner: {users.name(ownerId!)}</Text>}
                <Text size="sm">Expires: {expires ? new Date(expires).toLocaleString() : 'never'}</Text>
                <Text size="sm">{start ? 'Started once created' : 'Left shut off'}</Text>
              </Stack>
            </Paper>
          </Stack>
        </Stepper.Step>
        <Stepper.Completed>
          <Stack>
            {job && <JobProgress job={job} />}
            {job?.state === 'failed' && <Alert color="red" title="Creation failed">{job.error} Nothing was left behind.</Alert>}
            <LogViewer buffer={buffer} status={status} fileName={`create-${hostname}.log`} height={360} />
            {created && (
              <Group>
                <Button variant={job?.state === 'succeeded' ? 'filled' : 'default'} onClick={() => void navigate({ to: '/vps/$vpsId', params: { vpsId: created.vpsId } })}>Open server</Button>
              </Group>
            )}
          </Stack>
        </Stepper.Completed>
      </Stepper>
      {step < 4 && (
        <Group>
          {step > 0 && <Button variant="default" onClick={() => setStep(step - 1)}>Back</Button>}
          {step < 3 && <Button disabled={!stepValid[step]} onClick={() => setStep(step + 1)}>Next</Button>}
          {step === 3 && <Button loading={submitting} disabled={!stepValid.every(Boolean)} onClick={() => void create()}>Create server</Button>}
        </Group>
      )}
    </>
  );
}
