import { Alert, Button, Group, Modal, SegmentedControl, Stack, Text, TextInput } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, errorText } from '@slipway/web';
import { appParams, fieldErrors, imageProblem, refProblem, repoProblem, type App } from './api';
import { JobLogPanel } from './components';

/**
 * Deploy from an image (`git:from-image`) or a git repository + ref (`git:sync --build`). The moment
 * the server accepts it (202 { job }) the dialog turns into the deploy's live log: a deploy that
 * waits behind another one of the app says so, it does not fail on Dokku's lock.
 */
export function DeployDialog({ app, opened, onClose }: { app: App; opened: boolean; onClose(): void }) {
  const qc = useQueryClient();
  const [mode, setMode] = useState<'image' | 'git'>(app.deploySource && app.deploySource !== 'docker-image' && app.gitRemote ? 'git' : 'image');
  const [image, setImage] = useState(app.image ?? '');
  const [repo, setRepo] = useState(app.gitRemote ?? '');
  const [ref, setRef] = useState('main');
  const [touched, setTouched] = useState(false);
  const [server, setServer] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [jobId, setJobId] = useState<string | null>(null);

  const local: Record<string, string | null> = mode === 'image' ? { image: imageProblem(image.trim()) } : { repo: repoProblem(repo.trim()), ref: refProblem(ref.trim()) };
  const err = (f: string) => server[f] ?? (touched ? local[f] : null) ?? null;
  const invalid = Object.values(local).some(Boolean);

  const close = () => {
    setJobId(null);
    setServer({});
    setProblem(null);
    setTouched(false);
    onClose();
  };

  const submit = async () => {
    setTouched(true);
    setServer({});
    setProblem(null);
    if (invalid) return;
    setBusy(true);
    try {
      const body = mode === 'image' ? { image: image.trim() } : { repo: repo.trim(), ref: ref.trim() };
      const { job } = await call(api.POST('/api/v1/apps/{name}/deploys', { params: appParams(app.name, app.host), body }));
      setJobId(job.id);
      void qc.invalidateQueries({ queryKey: ['apps'] });
    } catch (e) {
      const fields = fieldErrors(e, (p) => (['image', 'repo', 'ref'].includes(p.split('.')[0]!) ? p.split('.')[0]! : null));
      setServer(fields);
      // Said once, in the dialog; never a permission name or raw issue text.
      if (!Object.keys(fields).length) setProblem(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened={opened} onClose={close} title={jobId ? `Deploying ${app.name}` : `Deploy ${app.name}`} size={jobId ? 'xl' : 'lg'} centered>
      {jobId ? (
        <Stack>
          <JobLogPanel jobId={jobId} fileName={`deploy-${app.name}-${jobId}.log`} />
          <Text size="xs" c="dimmed">Closing this window does not stop the deploy; it stays on the Deploys tab, where it can be cancelled.</Text>
          <Group justify="flex-end"><Button variant="default" onClick={close}>Close</Button></Group>
        </Stack>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <Stack>
            {problem && <Alert color="red">{problem}</Alert>}
            <SegmentedControl
              value={mode}
              onChange={(v) => {
                setMode(v as 'image' | 'git');
                setServer({});
              }}
              data={[{ value: 'image', label: 'Docker image' }, { value: 'git', label: 'Git repository' }]}
              aria-label="Deploy from"
            />
            {mode === 'image' ? (
              <TextInput label="Image" description="Pulled by Dokku unless present on the host, e.g. nginx:1.27 or ghcr.io/org/app@sha256:…" placeholder="nginx:1.27"
                value={image} onChange={(e) => { setImage(e.currentTarget.value); setServer({}); }} error={err('image')} autoComplete="off" data-autofocus ff="monospace" />
            ) : (
              <>
                <TextInput label="Repository URL" description="https:// only; private repositories need git:auth on the Dokku host" placeholder="https://github.com/org/app.git"
                  value={repo} onChange={(e) => { setRepo(e.currentTarget.value); setServer({}); }} error={err('repo')} autoComplete="off" data-autofocus />
                <TextInput label="Branch, tag or commit" placeholder="main" value={ref} onChange={(e) => { setRef(e.currentTarget.value); setServer({}); }} error={err('ref')} autoComplete="off" />
              </>
            )}
            <Text size="xs" c="dimmed">Each successful deploy becomes a release you can roll back to. If another deploy of this app is running, this one waits in the queue.</Text>
            <Group justify="flex-end">
              <Button variant="default" onClick={close} disabled={busy}>Cancel</Button>
              <Button type="submit" loading={busy} leftSection={null}>Deploy</Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
