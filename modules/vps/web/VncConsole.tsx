import { Alert, Badge, Button, Group, Paper, Text } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { openSocket } from '@slipway/web';
import { closeText } from './SerialConsole';

type Phase = { kind: 'connecting' } | { kind: 'open'; name?: string } | { kind: 'closed'; text: string };

/**
 * The domain's graphical console in noVNC: RFB over the panel's WebSocket (the panel proxies it to
 * the domain's VNC server on the node's loopback; no VNC password or node address in the browser).
 */
export default function VncConsole({ vpsId }: { vpsId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<{ sendCtrlAltDel(): void } | null>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let cancelled = false;
    let rfb: import('@novnc/novnc').default | null = null;
    let ws: WebSocket | null = null;
    setPhase({ kind: 'connecting' });
    void import('@novnc/novnc').then(({ default: RFB }) => {
      if (cancelled) return;
      ws = openSocket(`/api/v1/vps/${encodeURIComponent(vpsId)}/console/vnc`);
      let closeInfo = { code: 1006, reason: '' };
      ws.addEventListener('close', (e) => (closeInfo = { code: e.code, reason: e.reason }));
      rfb = new RFB(el, ws, { shared: true });
      rfb.scaleViewport = true;
      rfb.background = '#101113';
      rfbRef.current = rfb;
      rfb.addEventListener('connect', () => setPhase({ kind: 'open' }));
      rfb.addEventListener('desktopname', (e) => setPhase({ kind: 'open', name: (e as CustomEvent<{ name: string }>).detail.name }));
      rfb.addEventListener('disconnect', () => setTimeout(() => !cancelled && setPhase({ kind: 'closed', text: closeText(closeInfo.code, closeInfo.reason) }), 0));
      rfb.addEventListener('securityfailure', (e) => setPhase({ kind: 'closed', text: `VNC security failure: ${(e as CustomEvent<{ reason?: string }>).detail.reason ?? 'refused'}` }));
    }).catch((e: unknown) => setPhase({ kind: 'closed', text: `The graphical console could not load: ${(e as Error).message}` }));
    return () => {
      cancelled = true;
      rfbRef.current = null;
      try {
        rfb?.disconnect();
      } catch {
        ws?.close();
      }
    };
  }, [vpsId, attempt]);

  return (
    <Paper withBorder p="xs" data-testid="vnc-console">
      <Group justify="space-between" mb="xs">
        <Group gap="xs">
          <Text fw={600} size="sm">Graphical console{phase.kind === 'open' && phase.name ? ` · ${phase.name}` : ''}</Text>
          <Badge size="sm" variant="light" color={phase.kind === 'open' ? 'green' : phase.kind === 'connecting' ? 'gray' : 'red'}>
            {phase.kind === 'open' ? 'connected' : phase.kind === 'connecting' ? 'connecting…' : 'closed'}
          </Badge>
        </Group>
        <Group gap="xs">
          {phase.kind === 'open' && <Button size="xs" variant="default" onClick={() => rfbRef.current?.sendCtrlAltDel()}>Send Ctrl+Alt+Del</Button>}
          {phase.kind === 'closed' && <Button size="xs" variant="default" onClick={() => setAttempt((n) => n + 1)}>Reconnect</Button>}
        </Group>
      </Group>
      {phase.kind === 'closed' && <Alert color="gray" mb="xs" p="xs">{phase.text}</Alert>}
      <div ref={box} style={{ height: 480, background: '#101113', borderRadius: 4, overflow: 'hidden' }} aria-label="Graphical console" />
    </Paper>
  );
}
