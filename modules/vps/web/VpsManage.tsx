import { Button, Card, Group, NumberInput, Select, Stack, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog, api, call, notifyError, useRunJob } from '@slipway/web';
import { hostnameProblem, memoryText, sizeText, userDataProblem, type Image, type Plan, type Vps } from './api';
import { useIsStaff } from './hooks';

/** Resize, rename and reinstall of one VPS: each runs as a job (named steps, undone on failure). */
export default function VpsManage({ vps, plans, images }: { vps: Vps; plans: Plan[]; images: Image[] }) {
  return (
    <Stack maw={760}>
      <Resize vps={vps} plans={plans} />
      <Rename vps={vps} />
      <Reinstall vps={vps} images={images} />
    </Stack>
  );
}

function useJobRunner(vps: Vps) {
  const qc = useQueryClient();
  const runJob = useRunJob();
  const [busy, setBusy] = useState(false);
  const run = async (start: () => Promise<{ job: { id: string } }>) => {
    setBusy(true);
    try {
      await runJob(start as never);
      await qc.invalidateQueries({ queryKey: ['vps', 'one', vps.id] });
      await qc.invalidateQueries({ queryKey: ['vps'] });
    } catch (e) {
      notifyError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, run };
}

function Resize({ vps, plans }: { vps: Vps; plans: Plan[] }) {
  const staff = useIsStaff();
  const { busy, run } = useJobRunner(vps);
  const [planId, setPlanId] = useState<string | null>(null);
  const [custom, setCustom] = useState({ vcpus: vps.vcpus, memoryMb: vps.memoryMb, diskGb: vps.diskGb });
  const choices = plans.filter((p) => p.id !== vps.planId && p.diskGb >= vps.diskGb);
  const plan = plans.find((p) => p.id === planId);
  const customChanged = custom.vcpus !== vps.vcpus || custom.memoryMb !== vps.memoryMb || custom.diskGb !== vps.diskGb;
  const shrink = custom.diskGb < vps.diskGb;
  const byId = { params: { path: { id: vps.id } } };
  return (
    <Card withBorder>
      <Title order={5}>Resize</Title>
      <Text size="sm" c="dimmed" mb="xs">
        Now {sizeText(vps)}. CPU and memory change while the server is off: a running server is shut down and started again. The disk only grows (the guest grows its partition on the next boot).
      </Text>
      <Group align="flex-end">
        <Select label="New plan" placeholder={choices.length ? 'Pick a plan' : 'No larger plan'} w={320} value={planId} onChange={setPlanId}
          data={choices.map((p) => ({ value: p.id, label: `${p.name}: ${sizeText(p)}` }))} />
        <Button loading={busy} disabled={!plan} onClick={() => void run(() => call(api.POST('/api/v1/vps/{id}/resize', { ...byId, body: { planId: plan!.id } })))}>Resize to plan</Button>
      </Group>
      {staff && (
        <Group align="flex-end" mt="sm">
          <NumberInput label="vCPUs" min={1} max={64} w={100} value={custom.vcpus} onChange={(v) => setCustom({ ...custom, vcpus: Number(v) || 1 })} />
          <NumberInput label="Memory (MB)" min={128} step={256} w={140} value={custom.memoryMb} onChange={(v) => setCustom({ ...custom, memoryMb: Number(v) || 128 })} description={memoryText(custom.memoryMb)} />
          <NumberInput label="Disk (GB)" min={vps.diskGb} w={120} value={custom.diskGb} onChange={(v) => setCustom({ ...custom, diskGb: Number(v) || vps.diskGb })} error={shrink ? 'The disk can only grow' : null} />
          <Button variant="default" loading={busy} disabled={!customChanged || shrink} onClick={() => void run(() => call(api.POST('/api/v1/vps/{id}/resize', { ...byId, body: custom })))}>Resize (custom)</Button>
        </Group>
      )}
    </Card>
  );
}

function Rename({ vps }: { vps: Vps }) {
  const { busy, run } = useJobRunner(vps);
  const [name, setName] = useState(vps.hostname);
  const problem = name === vps.hostname ? null : hostnameProblem(name);
  return (
    <Card withBorder>
      <Title order={5}>Rename</Title>
      <Text size="sm" c="dimmed" mb="xs">Changes the name in the panel, the machine's title and its DHCP reservation. The guest's own hostname changes on a reinstall (or inside the guest).</Text>
      <Group align="flex-end">
        <TextInput label="Hostname" w={320} value={name} onChange={(e) => setName(e.currentTarget.value.trim().toLowerCase())} error={problem} />
        <Button loading={busy} disabled={name === vps.hostname || !!problem} onClick={() => void run(() => call(api.POST('/api/v1/vps/{id}/rename', { params: { path: { id: vps.id } }, body: { hostname: name } })))}>Rename</Button>
      </Group>
    </Card>
  );
}

function Reinstall({ vps, images }: { vps: Vps; images: Image[] }) {
  const { busy, run } = useJobRunner(vps);
  const [imageId, setImageId] = useState<string | null>(vps.imageId);
  const [userData, setUserData] = useState('');
  const [confirm, setConfirm] = useState(false);
  const ready = images.filter((i) => i.status === 'ready' && i.minDiskGb <= vps.diskGb);
  const image = ready.find((i) => i.id === imageId);
  const udProblem = userData.trim() ? userDataProblem(userData) : null;
  return (
    <Card withBorder>
      <Title order={5}>Reinstall</Title>
      <Text size="sm" c="dimmed" mb="xs">Erases the disk and installs the image again with a new cloud-init seed: its snapshots go too. Keys and user-data stay as at creation unless new user-data is given.</Text>
      <Stack gap="xs">
        <Select label="Image" w={320} value={imageId} onChange={setImageId} data={ready.map((i) => ({ value: i.id, label: [i.name, i.os, i.version].filter(Boolean).join(' · ') }))} />
        <Textarea label="New user-data (optional)" placeholder={'#cloud-config\npackages: [htop]'} rows={4} ff="monospace" value={userData} onChange={(e) => setUserData(e.currentTarget.value)} error={udProblem} />
        <Group>
          <Button color="red" variant="light" loading={busy} disabled={!image || !!udProblem} onClick={() => setConfirm(true)}>Reinstall…</Button>
        </Group>
      </Stack>
      <ConfirmDialog
        opened={confirm}
        onClose={() => setConfirm(false)}
        title={`Reinstall ${vps.hostname}?`}
        message={<>Everything on the disk of {vps.hostname} is erased and {image?.name ?? 'the image'} is installed again. Its snapshots are deleted. This cannot be undone.</>}
        typeToConfirm={vps.hostname}
        confirmLabel="Reinstall"
        onConfirm={async () => {
          await run(() => call(api.POST('/api/v1/vps/{id}/reinstall', {
            params: { path: { id: vps.id } },
            body: { imageId: image!.id, confirm: vps.hostname, ...(userData.trim() ? { userData } : {}) },
          })));
        }}
      />
    </Card>
  );
}
