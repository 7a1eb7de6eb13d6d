import { Alert, Button, Card, Code, Group, SimpleGrid, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { PageHeader, api, call, errorText, formatBytes, onlyFields, otherIssuesText, notifySuccess, useCan } from '@slipway/web';
import { fieldErrors } from './api';
import { NetbootNav } from './components';

const IFACE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** The boot server: dnsmasq's interface, proxyDHCP on or off, and the config it is given (read-only). */
export default function SettingsPage() {
  const qc = useQueryClient();
  const canManage = useCan('netboot.manage');
  const q = useQuery({ queryKey: ['netboot', 'settings'], queryFn: () => call(api.GET('/api/v1/netboot/settings')) });
  const s = q.data;
  const [iface, setIface] = useState('');
  const [subnet, setSubnet] = useState('');
  const [proxy, setProxy] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!s) return;
    setIface(s.interface);
    setSubnet(s.subnet ?? '');
    setProxy(s.proxyDhcp);
  }, [s]);

  const save = async () => {
    setProblem(null);
    const errs: Record<string, string> = {};
    if (!IFACE.test(iface)) errs.interface = 'an interface name such as eth0 (at most 15 characters)';
    if (subnet && !CIDR.test(subnet)) errs.subnet = 'an IPv4 network such as 10.20.0.0/24';
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      const next = await call(api.PATCH('/api/v1/netboot/settings', { body: { interface: iface, subnet: subnet || null, proxyDhcp: proxy } }));
      qc.setQueryData(['netboot', 'settings'], next);
      notifySuccess('Boot server settings saved; the dnsmasq config was rewritten');
    } catch (e) {
      const fields = ['interface', 'subnet', 'proxyDhcp'] as const;
      const f = onlyFields(fieldErrors(e), fields);
      if (Object.keys(f).length) {
        setErrors(f);
        setProblem(otherIssuesText(e, fields));
      } else setProblem(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title="Netboot" description="Boot server: proxyDHCP + TFTP chainload iPXE; the site's DHCP server keeps assigning addresses" />
      <NetbootNav active="/netboot/settings" />
      {q.error && <Alert color="red">{(q.error as Error).message}</Alert>}
      {s && (
        <>
          <SimpleGrid cols={{ base: 1, md: 2 }} mb="md">
            <Card withBorder>
              <Title order={5} mb="xs">dnsmasq</Title>
              <form onSubmit={(e) => { e.preventDefault(); void save(); }} noValidate>
                <Stack gap="sm">
                  {problem && <Alert color="red">{problem}</Alert>}
                  <TextInput label="Interface" description="The LAN interface dnsmasq answers on" value={iface} error={errors.interface} disabled={!canManage}
                    onChange={(e) => { setIface(e.currentTarget.value); setErrors((x) => ({ ...x, interface: '' })); }} />
                  <TextInput label="LAN network" description="IPv4 CIDR, e.g. 10.20.0.0/24 (proxyDHCP answers for it)" value={subnet} error={errors.subnet} disabled={!canManage}
                    onChange={(e) => { setSubnet(e.currentTarget.value); setErrors((x) => ({ ...x, subnet: '' })); }} />
                  <Switch label="proxyDHCP" description="Answer PXE clients alongside the site's DHCP server (which keeps assigning addresses)" checked={proxy} disabled={!canManage}
                    onChange={(e) => setProxy(e.currentTarget.checked)} />
                  {canManage && <Group justify="flex-end"><Button type="submit" loading={busy}>Save</Button></Group>}
                </Stack>
              </form>
            </Card>
            <Card withBorder>
              <Title order={5} mb="xs">Boot server</Title>
              <Stack gap={6}>
                <Text size="sm">iSCSI portal: <Code>{s.serverAddress}:{s.iscsiPort}</Code></Text>
                <Text size="sm">Boot scripts from: <Code>{s.bootBaseUrl}</Code></Text>
                <Text size="sm">Entry script (unknown machines): <Code style={{ wordBreak: 'break-all' }}>{s.entryScriptUrl}</Code></Text>
                <Text size="sm">IQN prefix: <Code>{s.iqnPrefix}</Code> · tgt target ids {s.tidRange.min}–{s.tidRange.max}</Text>
                <Text size="sm">iPXE boot files: {s.bootFiles ? <><Code>{s.bootFiles.bios}</Code> <Code>{s.bootFiles.efi}</Code> in <Code>{s.bootFiles.dir}</Code></> : <Text span c="orange" size="sm">not found (apt-get install ipxe)</Text>}</Text>
                <Text size="sm">Image store: <Code>{s.disk.root}</Code>, {formatBytes(s.disk.usableBytes)} usable ({formatBytes(s.disk.freeBytes)} free, {formatBytes(s.disk.reserveBytes)} reserved)</Text>
              </Stack>
            </Card>
          </SimpleGrid>
          <Title order={4} mb="xs">Generated dnsmasq config</Title>
          <Text size="sm" c="dimmed" mb="xs">
            Written to <Code>{s.dnsmasq.path}</Code> (mode 0600) whenever machines or settings change; run dnsmasq on it (<Code>dnsmasq -C {s.dnsmasq.path}</Code>). Read-only here; boot tokens are redacted.
          </Text>
          {s.dnsmasq.config === null
            ? <Alert color="gray" data-testid="dnsmasq-none">No config: {s.dnsmasq.reason ?? 'proxyDHCP is off'}</Alert>
            : <Code block data-testid="dnsmasq-config" style={{ maxHeight: 480, overflow: 'auto' }}>{s.dnsmasq.config}</Code>}
        </>
      )}
    </>
  );
}
