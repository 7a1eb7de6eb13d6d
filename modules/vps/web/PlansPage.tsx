import { Alert, Badge, Button, Card, Group, Modal, NumberInput, Select, SimpleGrid, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, DataTable, EmptyState, PageHeader, api, call, errorText, icons, onlyFields, otherIssuesText, notifyError, notifySuccess, useCan } from '@slipway/web';
import { fieldErrors, memoryText, perms, type Plan } from './api';
import { VpsNav } from './components';
import { useUsers } from './hooks';


/** Plans (what customers may create) and per-user quotas; billing manages both. */
export default function PlansPage() {
  const canManage = useCan(perms.plans);
  const canQuotas = useCan(perms.quotas);
  const [creating, setCreating] = useState(false);
  const plans = useQuery({ queryKey: ['vps', 'plans'], queryFn: () => call(api.GET('/api/v1/vps/plans')) });
  return (
    <>
      <PageHeader
        title="Plans"
        description="Sizes offered for new servers; customers see public plans only"
        actions={canManage && <Button leftSection={<icons.plus size={16} />} onClick={() => setCreating(true)}>New plan</Button>}
      />
      <VpsNav active="/vps/plans" />
      <DataTable
        rows={plans.data?.items}
        loading={plans.isLoading}
        error={plans.error}
        rowKey={(p) => p.id}
        empty={<EmptyState title="No plans yet" description={canManage ? 'Create a plan: vCPUs, memory, disk, traffic and a price label.' : 'Nobody has created a plan yet; billing does that.'} />}
        columns={[
          { key: 'name', header: 'Plan', render: (p) => <Group gap={6}><Text fw={600}>{p.name}</Text>{!p.public && <Badge size="xs" variant="light" color="gray">private</Badge>}</Group> },
          { key: 'vcpus', header: 'vCPU', render: (p) => p.vcpus },
          { key: 'memory', header: 'Memory', render: (p) => memoryText(p.memoryMb) },
          { key: 'disk', header: 'Disk', render: (p) => `${p.diskGb} GB` },
          { key: 'bw', header: 'Traffic', hideOnMobile: true, render: (p) => (p.bandwidthGb ? `${p.bandwidthGb} GB/month` : 'unmetered') },
          { key: 'snap', header: 'Snapshots', hideOnMobile: true, render: (p) => p.maxSnapshots },
          { key: 'price', header: 'Price', render: (p) => p.priceLabel ?? '—' },
        ]}
      />
      {canQuotas && <Quotas />}
      <NewPlanDialog opened={creating} onClose={() => setCreating(false)} />
    </>
  );
}

const PLAN_FIELDS = ['name', 'vcpus', 'memoryMb', 'diskGb', 'bandwidthGb', 'maxSnapshots', 'priceLabel', 'public'] as const;

function NewPlanDialog({ opened, onClose }: { opened: boolean; onClose(): void }) {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [vcpus, setVcpus] = useState<number | string>(1);
  const [memoryMb, setMemoryMb] = useState<number | string>(1024);
  const [diskGb, setDiskGb] = useState<number | string>(20);
  const [bandwidthGb, setBandwidthGb] = useState<number | string>(1000);
  const [maxSnapshots, setMaxSnapshots] = useState<number | string>(3);
  const [priceLabel, setPriceLabel] = useState('');
  const [isPublic, setPublic] = useState(true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setErrors({});
    setProblem(null);
    try {
      await call(api.POST('/api/v1/vps/plans', { body: {
        name: name.trim(), vcpus: Number(vcpus), memoryMb: Number(memoryMb), diskGb: Number(diskGb), bandwidthGb: Number(bandwidthGb), maxSnapshots: Number(maxSnapshots),
        ...(priceLabel.trim() ? { priceLabel: priceLabel.trim() } : {}), public: isPublic,
      } }));
      notifySuccess(`Plan ${name.trim()} created`);
      await qc.invalidateQueries({ queryKey: ['vps', 'plans'] });
      setName('');
      onClose();
    } catch (e) {
      // Next to its field when the form has it; the rest said plainly above the form (never raw).
      const f = onlyFields(fieldErrors(e), PLAN_FIELDS);
      setErrors(f);
      if (Object.keys(f).length) setProblem(otherIssuesText(e, PLAN_FIELDS));
      else e instanceof ApiError ? setProblem(errorText(e)) : notifyError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened={opened} onClose={onClose} title="New plan" centered size="lg">
      <Stack>
        {problem && <Alert color="red" style={{ whiteSpace: 'pre-line' }}>{problem}</Alert>}
        <TextInput label="Name" required placeholder="Small" value={name} onChange={(e) => setName(e.currentTarget.value)} error={errors.name} data-autofocus />
        <SimpleGrid cols={{ base: 1, xs: 3 }}>
          <NumberInput label="vCPUs" min={1} max={64} value={vcpus} onChange={setVcpus} error={errors.vcpus} />
          <NumberInput label="Memory (MB)" min={128} step={256} value={memoryMb} onChange={setMemoryMb} error={errors.memoryMb} />
          <NumberInput label="Disk (GB)" min={1} value={diskGb} onChange={setDiskGb} error={errors.diskGb} />
          <NumberInput label="Traffic (GB/month)" description="0 = unmetered" min={0} value={bandwidthGb} onChange={setBandwidthGb} error={errors.bandwidthGb} />
          <NumberInput label="Snapshots" min={0} max={100} value={maxSnapshots} onChange={setMaxSnapshots} error={errors.maxSnapshots} />
          <TextInput label="Price label" placeholder="€5/month" maxLength={60} value={priceLabel} onChange={(e) => setPriceLabel(e.currentTarget.value)} error={errors.priceLabel} />
        </SimpleGrid>
        <Switch label="Public: customers may create servers from this plan" checked={isPublic} onChange={(e) => setPublic(e.currentTarget.checked)} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>Cancel</Button>
          <Button loading={busy} disabled={!name.trim()} onClick={() => void submit()}>Create plan</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

function Quotas() {
  const users = useUsers();
  const [userId, setUserId] = useState<string | null>(null);
  const qc = useQueryClient();
  const quota = useQuery({ enabled: !!userId, queryKey: ['vps', 'quota', userId], queryFn: () => call(api.GET('/api/v1/vps/quotas/{userId}', { params: { path: { userId: userId! } } })) });
  const q = quota.data?.quota;
  const [draft, setDraft] = useState<Partial<Record<'maxCount' | 'maxVcpus' | 'maxMemoryMb' | 'maxDiskGb', number | string>>>({});
  const value = (k: 'maxCount' | 'maxVcpus' | 'maxMemoryMb' | 'maxDiskGb') => draft[k] ?? q?.[k] ?? '';
  const save = async () => {
    try {
      const body = { maxCount: Number(value('maxCount')), maxVcpus: Number(value('maxVcpus')), maxMemoryMb: Number(value('maxMemoryMb')), maxDiskGb: Number(value('maxDiskGb')) };
      const r = await call(api.PUT('/api/v1/vps/quotas/{userId}', { params: { path: { userId: userId! } }, body }));
      qc.setQueryData(['vps', 'quota', userId], r);
      setDraft({});
      notifySuccess('Quota saved');
    } catch (e) {
      notifyError(e);
    }
  };
  return (
    <Card withBorder mt="lg">
      <Title order={4} mb="xs">Quotas</Title>
      <Text size="sm" c="dimmed" mb="sm">Limits per customer; without a quota of their own, the panel's defaults apply.</Text>
      <Select label="User" searchable placeholder="Choose a user" data={users.list.map((u) => ({ value: u.id, label: `${u.username} (${u.role})` }))} value={userId} onChange={(v) => { setUserId(v); setDraft({}); }} maw={360} mb="sm" />
      {q && (
        <Stack>
          <Text size="sm">In use: {q.used.count} servers · {q.used.vcpus} vCPU · {memoryText(q.used.memoryMb)} · {q.used.diskGb} GB {q.custom ? '' : '(default quota)'}</Text>
          <SimpleGrid cols={{ base: 2, md: 4 }}>
            <NumberInput label="Servers" min={0} value={value('maxCount')} onChange={(v) => setDraft((d) => ({ ...d, maxCount: v }))} />
            <NumberInput label="vCPUs" min={0} value={value('maxVcpus')} onChange={(v) => setDraft((d) => ({ ...d, maxVcpus: v }))} />
            <NumberInput label="Memory (MB)" min={0} value={value('maxMemoryMb')} onChange={(v) => setDraft((d) => ({ ...d, maxMemoryMb: v }))} />
            <NumberInput label="Disk (GB)" min={0} value={value('maxDiskGb')} onChange={(v) => setDraft((d) => ({ ...d, maxDiskGb: v }))} />
          </SimpleGrid>
          <Group><Button onClick={() => void save()}>Save quota</Button></Group>
        </Stack>
      )}
    </Card>
  );
}
