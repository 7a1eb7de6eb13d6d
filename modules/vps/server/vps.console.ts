import { constants, openSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tty from 'node:tty';
import type { WebSocket } from 'ws';

/**
 * Browser consoles, bridged by the panel (the node's address and any VNC secret never reach the
 * browser). Serial: the domain's pty (`/dev/pts/N` from its live XML) opened in raw mode, bytes
 * both ways as binary frames. VNC: the domain's VNC server, which listens on 127.0.0.1 only
 * (domain-xml.ts), proxied byte for byte (noVNC speaks RFB over the WebSocket).
 * The WebSocket itself is registered with the platform's stream registry by the auth hook, so
 * revoking the session closes it.
 */

export interface BridgeOptions {
  idleMs: number;
  onClose(info: { reason: string; bytesIn: number; bytesOut: number; durationMs: number }): void;
}

function bridge(socket: WebSocket, peer: { write(b: Buffer): void; end(): void; on(ev: 'data', f: (b: Buffer) => void): void; on(ev: 'close' | 'end', f: () => void): void; on(ev: 'error', f: (e: Error) => void): void }, o: BridgeOptions): () => void {
  const started = Date.now();
  let bytesIn = 0;
  let bytesOut = 0;
  let done = false;
  let idle: NodeJS.Timeout;
  const finish = (reason: string) => {
    if (done) return;
    done = true;
    clearTimeout(idle);
    try {
      peer.end();
    } catch {
      /* already closed */
    }
    if (socket.readyState === socket.OPEN) socket.close(reason === 'idle' ? 4408 : 1000, reason.slice(0, 100));
    o.onClose({ reason, bytesIn, bytesOut, durationMs: Date.now() - started });
  };
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => finish('idle'), o.idleMs);
    idle.unref();
  };
  touch();
  peer.on('data', (b) => {
    bytesOut += b.length;
    touch();
    if (socket.readyState === socket.OPEN) socket.send(b, { binary: true });
  });
  peer.on('close', () => finish('console closed'));
  peer.on('end', () => finish('console closed'));
  peer.on('error', (e) => finish(`console error: ${e.message}`));
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const b = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    bytesIn += b.length;
    touch();
    peer.write(b);
  });
  socket.on('close', () => finish('client closed'));
  socket.on('error', () => finish('client error'));
  return () => finish('replaced by a newer session');
}

export function bridgeSerial(socket: WebSocket, pty: string, o: BridgeOptions): () => void {
  if (!/^\/dev\/pts\/\d{1,6}$/.test(pty)) throw new Error('not a pty');
  const fd = openSync(pty, constants.O_RDWR | constants.O_NOCTTY);
  const stream = new tty.ReadStream(fd);
  stream.setRawMode(true);
  return bridge(socket, { write: (b: Buffer) => stream.write(b), end: () => stream.destroy(), on: (ev: string, f: never) => stream.on(ev, f) } as never, o);
}

export function bridgeVnc(socket: WebSocket, port: number, o: BridgeOptions): () => void {
  if (!Number.isInteger(port) || port < 5900 || port > 65535) throw new Error('not a VNC port');
  const s = net.connect({ host: '127.0.0.1', port });
  return bridge(socket, { write: (b: Buffer) => s.write(b), end: () => s.destroy(), on: (ev: string, f: never) => s.on(ev, f) } as never, o);
}

/** A stream the host's runner opened (remote hosts: an SSH forward to the loopback VNC port, or `virsh console` on an SSH pty). */
export function bridgeStream(socket: WebSocket, stream: Duplex, o: BridgeOptions): () => void {
  return bridge(socket, { write: (b: Buffer) => stream.write(b), end: () => stream.destroy(), on: (ev: string, f: never) => stream.on(ev, f) } as never, o);
}
