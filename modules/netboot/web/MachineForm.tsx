import { Alert, Button, Group, Select, SimpleGrid, Stack, Switch, Textarea, TextInput } from '@mantine/core';
import { useState } from 'react';
import { errorText, onlyFields, otherIssuesText } from '@slipway/web';
import { BOOT_MODES, checkMac, fieldErrors, groupProblem, macProblem, nameProblem, type BootMode, type Machine, type MachineBody } from './api';
import { useImages, useImageVersions } from './hooks';

const FIELDS = ['name', 'mac', 'imageId', 'versionId', 'bootMode', 'fixedIp', 'group', 'notes'] as const;
type Field = (typeof FIELDS)[number];
const LATEST = '__latest__';

/**
 * Register or edit a machine. Name and MAC are checked as the server checks them before anything is
 * sent; the server's own field errors (a duplicate MAC, a bad address) appear at their field too.
 * `onSubmit` gets the whole body for a new machine, only the changed fields for an edit.
 */
export function MachineForm({ initial, submitLabel, onSubmit, onCancel }: {
  initial?: Machine; submitLabel: string; onSubmit(body: Partial<MachineBody>): Promise<unknown>; onCancel?(): void;
}) {
  const [name, setName] = useState(initial?.name ?? '');
  const [mac, setMac] = useState(initial?.mac ?? '');
  const [imageId, setImageId] = useState<string | null>(initial?.imageId ?? null);
  const [versionId, setVersionId] = useState<string | null>(initial?.versionId ?? null);
  const [bootMode, setBootMode] = useState<BootMode>(initial?.bootMode ?? 'iscsi');
  const [keep, setKeep] = useState(initial?.keepWriteback ?? false);
  const [fixedIp, setFixedIp] = useState(initial?.fixedIp ?? '');
  const [group, setGroup] = useState(initial?.group ?? '');
  const [notes, setNotes] = useState(initial?.notes ?? '');
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const images = useImages();
  const versions = useImageVersions(imageId);

  const submit = async () => {
    setProblem(null);
    const macCheck = checkMac(mac);
    const errs: Partial<Record<Field, string>> = {};
    const np = nameProblem(name.trim());
    if (np) errs.name = np;
    if ('problem' in macCheck) errs.mac = macCheck.problem;
    const gp = groupProblem(group.trim());
    if (gp) errs.group = gp;
    setErrors(errs);
    if (Object.keys(errs).length || !('mac' in macCheck)) return;
    const body: MachineBody = {
      name: name.trim(), mac: macCheck.mac, imageId, versionId: imageId ? versionId : null, bootMode, keepWriteback: keep,
      fixedIp: fixedIp.trim() || null, group: group.trim() || null, notes,
    };
    let send: Partial<MachineBody> = body;
    if (initial) {
      const before: MachineBody = { name: initial.name, mac: initial.mac, imageId: initial.imageId, versionId: initial.versionId, bootMode: initial.bootMode, keepWriteback: initial.keepWriteback, fixedIp: initial.fixedIp, group: initial.group, notes: initial.notes };
      send = Object.fromEntries(Object.entries(body).filter(([k, v]) => before[k as keyof MachineBody] !== v));
      if (!Object.keys(send).length) return setProblem('Nothing changed.');
    }
    setBusy(true);
    try {
      await onSubmit(send);
    } catch (e) {
      // Next to its field when the form has it; the rest said plainly above the form (never raw).
      const f = onlyFields(fieldErrors(e), FIELDS);
      setErrors(f);
      setProblem(Object.keys(f).length ? otherIssuesText(e, FIELDS) : errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const imageOptions = (images.data?.items ?? []).filter((i) => i.status === 'ready' || i.id === imageId).map((i) => ({ value: i.id, label: i.name }));
  const versionOptions = [
    { value: LATEST, label: 'Latest version (follows new commits)' },
    ...(versions.data?.versions ?? []).map((v) => ({ value: v.id, label: `v${v.number}${v.comment ? ` — ${v.comment}` : ''}` })),
  ];

  return (
    <form onSubmit={(e) => { e.preventDefault(); void submit(); }} noValidate>
      <Stack gap="sm">
        {problem && <Alert color="red" style={{ whiteSpace: 'pre-line' }}>{problem}</Alert>}
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label="Name" description="Lower-case host name; part of the machine's IQN" required value={name} error={errors.name}
            onChange={(e) => { setName(e.currentTarget.value); setErrors((x) => ({ ...x, name: undefined })); }} autoComplete="off" />
          <TextInput label="MAC address" description="e.g. 52:54:00:12:34:56, 52-54-00-12-34-56 or 5254.0012.3456" required value={mac} error={errors.mac}
            onChange={(e) => { setMac(e.currentTarget.value); setErrors((x) => ({ ...x, mac: undefined })); }}
            onBlur={() => mac && setErrors((x) => ({ ...x, mac: macProblem(mac) ?? undefined }))}
            autoComplete="off" ff="monospace" />
          <Select label="Image" placeholder="No image yet" clearable data={imageOptions} value={imageId} error={errors.imageId}
            onChange={(v) => { setImageId(v); setVersionId(null); }} />
          <Select label="Version" disabled={!imageId} data={versionOptions} value={versionId ?? LATEST} error={errors.versionId}
            onChange={(v) => setVersionId(!v || v === LATEST ? null : v)} allowDeselect={false} />
          <Select label="Boot mode" data={BOOT_MODES} value={bootMode} onChange={(v) => v && setBootMode(v as BootMode)} allowDeselect={false} error={errors.bootMode} />
          <TextInput label="Fixed IP address" description="Optional; unique per machine" value={fixedIp} error={errors.fixedIp}
            onChange={(e) => { setFixedIp(e.currentTarget.value); setErrors((x) => ({ ...x, fixedIp: undefined })); }} autoComplete="off" />
          <TextInput label="Group" description="Optional, e.g. lab-1" value={group} error={errors.group}
            onChange={(e) => { setGroup(e.currentTarget.value); setErrors((x) => ({ ...x, group: undefined })); }} autoComplete="off" />
          <Switch mt="lg" label="Keep the writeback across boots" description="Off: the machine's writes are thrown away at each boot" checked={keep} onChange={(e) => setKeep(e.currentTarget.checked)} />
        </SimpleGrid>
        <Textarea label="Notes" rows={3} value={notes} error={errors.notes} onChange={(e) => setNotes(e.currentTarget.value)} />
        <Group justify="flex-end">
          {onCancel && <Button variant="default" onClick={onCancel} disabled={busy}>Cancel</Button>}
          <Button type="submit" loading={busy}>{submitLabel}</Button>
        </Group>
      </Stack>
    </form>
  );
}
