import { Alert, Button, Group, NumberInput, Select, Stack, Switch, Textarea, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { PageHeader, notifyError, usePageParams, useRunJob } from '@slipway/web';
import { getJson, sendJson, type ContainerSpec, type EnvVar, type JobRef, type Service } from './api';

const SECRET_MASK = '********';

/** Create (path /containers/new) or edit (/containers/$serviceId/edit) a service. */
export default function ServiceFormPage() {
  const { serviceId } = usePageParams() as { serviceId?: string };
  const runJob = useRunJob();
  const existing = useQuery({ enabled: !!serviceId, queryKey: ['containers', serviceId], queryFn: () => getJson<{ service: Service }>(`/api/v1/containers/${serviceId}`) });
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
  const [restart, setRestart] = useState<string>('no');
  const [advanced, setAdvanced] = useState(false);
  const [containersJson, setContainersJson] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

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
  }, [existing.data]);

  const parseEnv = (text: string, secret: boolean): EnvVar[] =>
    text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
      const i = l.indexOf('=');
      return { name: i < 0 ? l : l.slice(0, i), value: i < 0 ? '' : l.slice(i + 1), secret };
    });

  const submit = async () => {
    setProblem(null);
    let containers: Partial<ContainerSpec>[];
    if (advanced) {
      try {
        containers = JSON.parse(containersJson) as ContainerSpec[];
      } catch {
        setProblem('Containers: not valid JSON');
        return;
      }
    } else {
      containers = [{
        name: 'web',
        image: image.trim(),
        ...(command.trim() ? { command: command.split('\n').map((a) => a.trim()).filter(Boolean) } : {}),
        env: [...parseEnv(env, false), ...parseEnv(secrets, true)],
        healthCheck: { type: 'http', path: healthPath || '/' },
      }];
    }
    const body = {
      hostnames: hostnames.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
      containers,
      http: { port, ...(advanced ? {} : { container: 'web' }) },
      restartPolicy: restart,
      sleep: { mode, idleTimeoutSeconds: idle },
    };
    try {
      await runJob(() => (serviceId
        ? sendJson<JobRef>('PATCH', `/api/v1/containers/${serviceId}`, body)
        : sendJson<JobRef>('POST', '/api/v1/containers', { name: name.trim(), ...body })));
    } catch (e) {
      notifyError(e);
    }
  };

  return (
    <>
      <PageHeader title={serviceId ? `Edit ${name}` : 'New service'} description="A container (or a group) reached through Caddy by hostname; it sleeps when idle" />
      <Stack maw={720}>
        {problem && <Alert color="red">{problem}</Alert>}
        <TextInput label="Name" description="Lowercase letters, digits and dashes" required disabled={!!serviceId} value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <TextInput label="Hostnames" description="Comma-separated, e.g. app.example.com" required value={hostnames} onChange={(e) => setHostnames(e.currentTarget.value)} />
        <Switch label="Several containers (edit as JSON: name, image, command, env, dependsOn…)" checked={advanced} onChange={(e) => setAdvanced(e.currentTarget.checked)} />
        {advanced ? (
          <Textarea label="Containers" rows={12} ff="monospace" value={containersJson} onChange={(e) => setContainersJson(e.currentTarget.value)} />
        ) : (
          <>
            <TextInput label="Image" required placeholder="nginx:1.27" value={image} onChange={(e) => setImage(e.currentTarget.value)} />
            <Textarea label="Command" description="One argument per line (empty: the image's default)" rows={3} value={command} onChange={(e) => setCommand(e.currentTarget.value)} />
            <Textarea label="Environment" description="NAME=value, one per line" rows={3} value={env} onChange={(e) => setEnv(e.currentTarget.value)} />
            <Textarea label="Secret environment" description={`NAME=value, one per line; shown as ${SECRET_MASK} afterwards (leave it to keep the value)`} rows={2} value={secrets} onChange={(e) => setSecrets(e.currentTarget.value)} />
            <TextInput label="Health check path" description="Ready when GET on this path answers below 500" value={healthPath} onChange={(e) => setHealthPath(e.currentTarget.value)} />
          </>
        )}
        <Group grow>
          <NumberInput label="HTTP port in the container" min={1} max={65535} value={port} onChange={(v) => setPort(Number(v) || 80)} />
          <Select label="Restart policy" data={['no', 'on-failure', 'unless-stopped', 'always']} value={restart} onChange={(v) => setRestart(v ?? 'no')} />
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
