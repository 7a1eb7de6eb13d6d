import { Alert, Button, Group, NumberInput, Select, Stack, Switch, Textarea, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { ApiError, PageError, PageHeader, api, call, errorText, notifyError, useMe, usePageParams, useRunJob } from '@slipway/web';
import { useNavigate } from '@tanstack/react-router';
import type { ContainerSpec, CreateServiceBody, EnvVar } from './api';

const SECRET_MASK = '********';

type Field = 'name' | 'hostnames' | 'image' | 'command' | 'env' | 'secrets' | 'volumes' | 'memory' | 'cpus' | 'containers';

/** `name:/target[:ro]` per line (admins may also write `/host/path:/target[:ro]`). */
export function parseVolumes(text: string): { source: string; target: string; readOnly: boolean }[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const parts = l.split(':');
    const readOnly = parts.length > 2 && parts[parts.length - 1] === 'ro';
    const [source = '', target = ''] = readOnly ? parts.slice(0, -1) : parts;
    return { source, target, readOnly };
  });
}

/** Which form field a server issue path (e.g. `containers.0.volumes.1.source`) belongs to. */
function fieldOf(path: string, secretIndexes: Set<number>): Field | null {
  if (path === 'name' || path.startsWith('hostnames')) return path === 'name' ? 'name' : 'hostnames';
  const m = /^containers\.0\.(\w+)(?:\.(\d+))?/.exec(path);
  if (!m) return path.startsWith('containers') ? 'containers' : null;
  if (m[1] === 'env') return secretIndexes.has(Number(m[2])) ? 'secrets' : 'env';
  if (m[1] === 'resources') return path.endsWith('cpus') ? 'cpus' : 'memory';
  return ({ image: 'image', command: 'command', volumes: 'volumes' } as Record<string, Field>)[m[1]!] ?? 'containers';
}

/** Create (path /containers/new) or edit (/containers/$serviceId/edit) a service. */
export default function ServiceFormPage() {
  const { serviceId } = usePageParams() as { serviceId?: string };
  const runJob = useRunJob();
  const navigate = useNavigate();
  const existing = useQuery({ enabled: !!serviceId, queryKey: ['containers', serviceId], queryFn: () => call(api.GET('/api/v1/containers/{id}', { params: { path: { id: serviceId! } } })) });
  const [name, setName] = useState('');
  const [hostnames, setHostnames] = useState('');
  const [image, setImage] = useState('');
  const [command, setCommand] = useState('');
  const [env, setEnv] = useState('');
  const [secrets, setSecrets] = useState('');
  const [port, setPort] = useState<number>(80);
  const [healthPath, setHealthPath] = useState('/');
  const [mode, setMode] = useState<'stop' | 'pause' | 'always-on'>('stop');
  const [idle, setIdle] = useState<number>(900);
  const [restart, setRestart] = useState<CreateServiceBody['restartPolicy']>('no');
  const [advanced, setAdvanced] = useState(false);
  const [containersJson, setContainersJson] = useState('');
  const [volumes, setVolumes] = useState('');
  const [memoryMb, setMemoryMb] = useState<number | ''>('');
  const [cpus, setCpus] = useState<number | ''>('');
  const [problem, setProblem] = useState<string | null>(null);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  // Only admins may name host paths (the server enforces it: 403 host_path_forbidden).
  const isAdmin = useMe()?.role === 'admin';

  useEffect(() => {
    const s = existing.data?.service;
    if (!s) return;
    const c = s.containers.find((x) => x.name === s.http.container) ?? s.containers[0]!;
    setName(s.name);
    setHostnames(s.hostnames.join(', '));
    setImage(c.image);
    setCommand((c.command ?? []).join('\n'));
    setEnv(c.env.filter((e) => !e.secret).map((e) => `${e.name}=${e.value}`).join('\n'));
    setSecrets(c.env.filter((e) => e.secret).map((e) => `${e.name}=${e.value}`).join('\n'));
    setPort(s.http.port);
    setHealthPath(c.healthCheck?.type === 'http' ? c.healthCheck.path : '/');
    setMode(s.sleep.mode);
    setIdle(s.sleep.idleTimeoutSeconds);
    setRestart(s.restartPolicy);
    setAdvanced(s.containers.length > 1);
    setContainersJson(JSON.stringify(s.containers, null, 2));
    setVolumes(c.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`).join('\n'));
    setMemoryMb(c.resources?.memoryMb ?? '');
    setCpus(c.resources?.cpus ?? '');
  }, [existing.data]);

  const parseEnv = (text: string, secret: boolean): EnvVar[] =>
    text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
      const i = l.indexOf('=');
      return { name: i < 0 ? l : l.slice(0, i), value: i < 0 ? '' : l.slice(i + 1), secret };
    });

  const submit = async () => {
    setProblem(null);
    setErrors({});
    let containers: Partial<ContainerSpec>[];
    const envList = [...parseEnv(env, false), ...parseEnv(secrets, true)];
    const secretIndexes = new Set(envList.flatMap((e, i) => (e.secret ? [i] : [])));
    if (advanced) {
      try {
        containers = JSON.parse(containersJson) as ContainerSpec[];
      } catch {
        setProblem('Containers: not valid JSON');
        return;
      }
    } else {
      const vols = parseVolumes(volumes);
      if (!isAdmin && vols.some((v) => v.source.startsWith('/'))) {
        setErrors({ volumes: 'Host paths are for admins only: use a volume name, e.g. data:/var/lib/app' });
        return;
      }
      // Editing keeps what the simple form does not show (ports, labels…) and the container's name.
      const before = existing.data?.service.containers.find((x) => x.name === existing.data?.service.http.container);
      const resources = { ...(memoryMb !== '' ? { memoryMb: Number(memoryMb) } : {}), ...(cpus !== '' ? { cpus: Number(cpus) } : {}) };
      containers = [{
        ...(before ?? {}),
        name: before?.name ?? 'web',
        image: image.trim(),
        ...(command.trim() ? { command: command.split('\n').map((a) => a.trim()).filter(Boolean) } : {}),
        env: envList,
        volumes: vols,
        ...(Object.keys(resources).length ? { resources } : {}),
        healthCheck: { type: 'http', path: healthPath || '/' },
      }];
    }
    const entry = advanced ? undefined : (containers[0]?.name ?? 'web');
    // The advanced form sends the JSON as typed: the server validates it and names the field at fault.
    const body: Omit<CreateServiceBody, 'name'> = {
      hostnames: hostnames.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
      containers: containers as CreateServiceBody['containers'],
      http: { port, ...(entry ? { container: entry } : {}) },
      restartPolicy: restart,
      sleep: { mode, idleTimeoutSeconds: idle },
    };
    try {
      let landing: string | undefined;
      const job = await runJob(async () => {
        try {
          if (serviceId) return await call(api.PATCH('/api/v1/containers/{id}', { params: { path: { id: serviceId } }, body }));
          const created = await call(api.POST('/api/v1/containers', { body: { name: name.trim(), ...body } }));
          landing = created.service.id;
          return created;
        } catch (e) {
          // The server's field issues (validation, host paths, masked secrets, limits) go next to their field.
          const issues = e instanceof ApiError ? ((e.details as { issues?: { path: string; message: string }[] } | undefined)?.issues ?? []) : [];
          const next: Partial<Record<Field, string>> = {};
          for (const i of issues) {
            const f = fieldOf(i.path.replace(/^body\./, ''), secretIndexes);
            if (f) next[advanced && f !== 'name' && f !== 'hostnames' ? 'containers' : f] ??= i.message;
          }
          setErrors(next);
          if (e instanceof ApiError && !Object.keys(next).length) setProblem(errorText(e));
          throw e;
        }
      }, { fields: true, open: false });
      // The operator lands on the service, which shows this job's progress (LatestJob).
      if (job) void navigate({ to: '/containers/$serviceId', params: { serviceId: landing ?? serviceId! } });
    } catch (e) {
      notifyError(e);
    }
  };

  if (serviceId && existing.error) return <PageError error={existing.error} what="service" backTo="/containers" />;
  if (serviceId && !existing.data) return <PageHeader title="Edit service" description="Loading…" />;
  return (
    <>
      <PageHeader title={serviceId ? `Edit ${name}` : 'New service'} description="A container (or a group) reached through Caddy by hostname; it sleeps when idle" />
      <Stack maw={720}>
        {problem && <Alert color="red">{problem}</Alert>}
        <TextInput label="Name" description="Lowercase letters, digits and dashes" required disabled={!!serviceId} error={errors.name} value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <TextInput label="Hostnames" description="Comma-separated, e.g. app.example.com" required error={errors.hostnames} value={hostnames} onChange={(e) => setHostnames(e.currentTarget.value)} />
        <Switch label="Several containers (edit as JSON: name, image, command, env, dependsOn…)" checked={advanced} onChange={(e) => setAdvanced(e.currentTarget.checked)} />
        {advanced ? (
          <Textarea label="Containers" rows={12} ff="monospace" error={errors.containers} value={containersJson} onChange={(e) => setContainersJson(e.currentTarget.value)} />
        ) : (
          <>
            <TextInput label="Image" required placeholder="nginx:1.27" error={errors.image} value={image} onChange={(e) => setImage(e.currentTarget.value)} />
            <Textarea label="Command" description="One argument per line (empty: the image's default)" rows={3} error={errors.command} value={command} onChange={(e) => setCommand(e.currentTarget.value)} />
            <Textarea label="Environment" description="NAME=value, one per line; values of names like *_PASSWORD, *_TOKEN, DATABASE_URL are treated as secrets" rows={3} error={errors.env} value={env} onChange={(e) => setEnv(e.currentTarget.value)} />
            <Textarea label="Secret environment" description={`NAME=value, one per line; shown as ${SECRET_MASK} afterwards (leave it to keep the value)`} rows={2} error={errors.secrets} value={secrets} onChange={(e) => setSecrets(e.currentTarget.value)} />
            <Textarea
              label="Volumes"
              description={isAdmin
                ? 'name:/path/in/container[:ro], one per line; a name is this service\'s own volume. Admins may also bind /host/path:/path (under the configured host path roots)'
                : 'name:/path/in/container[:ro], one per line; each name is a volume of this service alone'}
              placeholder="data:/var/lib/app"
              rows={2}
              error={errors.volumes}
              value={volumes}
              onChange={(e) => setVolumes(e.currentTarget.value)}
            />
            <Group grow>
              <NumberInput label="Memory limit (MB)" description="Empty: the panel's default" min={6} error={errors.memory} value={memoryMb} onChange={(v) => setMemoryMb(v === '' ? '' : Number(v))} />
              <NumberInput label="CPUs" description="Empty: the panel's default" min={0.01} step={0.25} decimalScale={2} error={errors.cpus} value={cpus} onChange={(v) => setCpus(v === '' ? '' : Number(v))} />
            </Group>
            <TextInput label="Health check path" description="Ready when GET on this path answers below 500" value={healthPath} onChange={(e) => setHealthPath(e.currentTarget.value)} />
          </>
        )}
        <Group grow>
          <NumberInput label="HTTP port in the container" min={1} max={65535} value={port} onChange={(v) => setPort(Number(v) || 80)} />
          <Select label="Restart policy" data={['no', 'on-failure', 'unless-stopped', 'always']} value={restart} onChange={(v) => setRestart((v as typeof restart) ?? 'no')} />
        </Group>
        <Group grow>
          <Select label="When idle" data={[{ value: 'stop', label: 'Stop' }, { value: 'pause', label: 'Pause' }, { value: 'always-on', label: 'Always on' }]} value={mode} onChange={(v) => setMode((v as typeof mode) ?? 'stop')} />
          <NumberInput label="Idle timeout (seconds)" min={1} max={604800} disabled={mode === 'always-on'} value={idle} onChange={(v) => setIdle(Number(v) || 900)} />
        </Group>
        <Group><Button onClick={() => void submit()}>{serviceId ? 'Save changes' : 'Create service'}</Button></Group>
      </Stack>
    </>
  );
}
