import { Alert, Badge, Button, Group, Paper, Text } from '@mantine/core';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { openSocket } from '@slipway/web';

type Phase = { kind: 'connecting' } | { kind: 'open' } | { kind: 'closed'; code: number; reason: string };

/** Why a console closed, in words (close codes from the panel: 4401 session ended, 4408 idle). */
export function closeText(code: number, reason: string): string {
  if (code === 4401) return 'Your session ended (signed out or revoked).';
  if (code === 4408) return 'Closed after a long time without traffic.';
  if (reason === 'replaced by a newer session') return 'Another serial console session to this server was opened (the newer one wins).';
  if (code === 1011) return 'The console is not available right now.';
  if (code === 1006) return 'The panel refused or lost the connection: the server must be running, and your role must be allowed to operate it.';
  return reason || `Closed (code ${code}).`;
}

/**
 * The domain's serial console (ttyS0) in xterm.js over the panel's WebSocket: bytes both ways as
 * binary frames; the token travels as a subprotocol, the node's address never reaches the browser.
 */
export default function SerialConsole({ vpsId, hostname }: { vpsId: string; hostname: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const term = new Terminal({
      convertEol: false, cursorBlink: true, fontSize: 14, scrollback: 5000,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      theme: { background: '#101113', foreground: '#e9ecef', cursor: '#74c0fc' },
    });
    term.open(el);
    // No fit addon: size the grid from the box and the font's cell width (the serial line has no size of its own).
    const fit = () => {
      const ctx = document.createElement('canvas').getContext('2d');
      if (!ctx) return;
      ctx.font = `14px ${term.options.fontFamily}`;
      const w = ctx.measureText('W').width || 8.4;
      const cols = Math.max(40, Math.min(250, Math.floor((el.clientWidth - 16) / w)));
      term.resize(cols, 26);
    };
    fit();
    window.addEventListener('resize', fit);
    setPhase({ kind: 'connecting' });
    const ws = openSocket(`/api/v1/vps/${encodeURIComponent(vpsId)}/console/serial`);
    ws.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    ws.onopen = () => {
      setPhase({ kind: 'open' });
      term.focus();
    };
    ws.onmessage = (m) => term.write(typeof m.data === 'string' ? m.data : new Uint8Array(m.data as ArrayBuffer));
    ws.onclose = (e) => {
      setPhase({ kind: 'closed', code: e.code, reason: e.reason });
      term.write('\r\n\x1b[2m[console closed]\x1b[0m\r\n');
    };
    const d1 = term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
    const d2 = term.onBinary((d) => ws.readyState === WebSocket.OPEN && ws.send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
    return () => {
      window.removeEventListener('resize', fit);
      d1.dispose();
      d2.dispose();
      ws.onclose = null;
      ws.close();
      term.dispose();
    };
  }, [vpsId, attempt]);

  return (
    <Paper withBorder p="xs" data-testid="serial-console">
      <Group justify="space-between" mb="xs">
        <Group gap="xs">
          <Text fw={600} size="sm">Serial console · {hostname}</Text>
          <Badge size="sm" variant="light" color={phase.kind === 'open' ? 'green' : phase.kind === 'connecting' ? 'gray' : 'red'}>
            {phase.kind === 'open' ? 'connected' : phase.kind === 'connecting' ? 'connecting…' : 'closed'}
          </Badge>
        </Group>
        <Group gap="xs">
          {phase.kind === 'open' && <Text size="xs" c="dimmed">Press Enter if the screen stays empty. Every session is audited.</Text>}
          {phase.kind === 'closed' && <Button size="xs" variant="default" onClick={() => setAttempt((n) => n + 1)}>Reconnect</Button>}
        </Group>
      </Group>
      {phase.kind === 'closed' && <Alert color="gray" mb="xs" p="xs">{closeText(phase.code, phase.reason)}</Alert>}
      <div ref={box} style={{ background: '#101113', padding: 8, borderRadius: 4, minHeight: 200 }} aria-label="Serial console terminal" />
    </Paper>
  );
}
