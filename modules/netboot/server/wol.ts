import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { cidrParts, type Ipv4Cidr, type Mac, NetbootInputError, parseMac } from './netboot.schema.js';

/** The only place that knows Wake-on-LAN: the magic packet and the UDP datagram that carries it (node:dgram, no shell). */

/** 6 × 0xff, then the MAC 16 times: 102 bytes. */
export function magicPacket(mac: Mac): Buffer {
  const octets = Buffer.from(parseMac(mac).split(':').map((h) => parseInt(h, 16)));
  const out = Buffer.alloc(6 + 16 * 6, 0xff);
  for (let i = 0; i < 16; i++) octets.copy(out, 6 + i * 6);
  return out;
}

/** A dotted IPv4 address without leading zeros (never a name: nothing is resolved). */
export function parseWakeAddress(input: unknown): string {
  if (typeof input !== 'string' || !isIPv4(input) || input.split('.').some((p) => p.length > 1 && p.startsWith('0'))) {
    throw new NetbootInputError('a wake-on-LAN broadcast address is a dotted IPv4 address such as 10.20.0.255');
  }
  if (input === '0.0.0.0' || Number(input.split('.')[0]) >= 224 && input !== '255.255.255.255') throw new NetbootInputError('a wake-on-LAN address is not 0.0.0.0 or multicast');
  return input;
}

/** The directed broadcast address of a network (10.20.0.0/24 → 10.20.0.255). */
export function directedBroadcast(c: Ipv4Cidr): string {
  const { network, bits } = cidrParts(c);
  const n = network.split('.').reduce((a, p) => (a << 8) | Number(p), 0) >>> 0;
  const host = bits >= 32 ? 0 : (0xffffffff >>> bits);
  const b = (n | host) >>> 0;
  return [24, 16, 8, 0].map((s) => (b >>> s) & 255).join('.');
}

/** Sends one magic packet for `mac` to `address:port` (broadcast allowed); resolves when the datagram has left. */
export async function sendMagicPacket(o: { mac: Mac; address: string; port: number }): Promise<{ bytes: number }> {
  const address = parseWakeAddress(o.address);
  const packet = magicPacket(o.mac);
  const sock = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, () => {
        sock.setBroadcast(true);
        sock.send(packet, o.port, address, (err) => (err ? reject(err) : resolve()));
      });
    });
  } finally {
    sock.close();
  }
  return { bytes: packet.length };
}
