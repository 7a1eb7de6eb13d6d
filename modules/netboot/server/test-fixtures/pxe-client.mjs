// PXE client in a network namespace: DHCPDISCOVER (firmware PXE, then iPXE), 4011 boot request, TFTP RRQ. Prints JSON.
import dgram from 'node:dgram';
const [server, macHex, file] = process.argv.slice(2);
const mac = Buffer.from(macHex.replace(/:/g, ''), 'hex');
const opt = (code, data) => Buffer.concat([Buffer.from([code, data.length]), data]);
function packet(type, xid, { ipxe = false, extra = [], ciaddr = null } = {}) {
  const h = Buffer.alloc(240);
  if (ciaddr) Buffer.from(ciaddr.split('.').map(Number)).copy(h, 12);
  h[0] = 1; h[1] = 1; h[2] = 6; h.writeUInt32BE(xid, 4); h.writeUInt16BE(0x8000, 10); mac.copy(h, 28);
  h.writeUInt32BE(0x63825363, 236);
  const uuid = Buffer.alloc(17); uuid[0] = 0; mac.copy(uuid, 11);
  return Buffer.concat([h, opt(53, Buffer.from([type])), opt(60, Buffer.from('PXEClient:Arch:00000:UNDI:002001')), opt(93, Buffer.from([0, 0])),
    opt(94, Buffer.from([1, 2, 1])), opt(97, uuid), ...(ipxe ? [opt(77, Buffer.from('iPXE'))] : []), ...extra,
    opt(55, Buffer.from([1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135])), Buffer.from([255])]);
}
function parse(b) {
  const o = {}; let i = 240;
  while (i < b.length && b[i] !== 255) { if (b[i] === 0) { i++; continue; } o[b[i]] = b.subarray(i + 2, i + 2 + b[i + 1]).toString('hex'); i += 2 + b[i + 1]; }
  const z = (s) => s.toString('latin1').replace(/\0.*$/s, '');
  return { op: b[0], xid: b.readUInt32BE(4), yiaddr: [...b.subarray(16, 20)].join('.'), siaddr: [...b.subarray(20, 24)].join('.'), sname: z(b.subarray(44, 108)), file: z(b.subarray(108, 236)), options: o };
}
function exchange(sock, pkt, port, to, xid, ms = 4000) {
  return new Promise((resolve) => {
    const got = [];
    const on = (m) => { if (m.length >= 240 && m.readUInt32BE(4) === xid) got.push(parse(m)); };
    sock.on('message', on);
    sock.send(pkt, port, to);
    setTimeout(() => { sock.off('message', on); resolve(got); }, ms);
  });
}
const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
await new Promise((r) => sock.bind(68, '0.0.0.0', r));
sock.setBroadcast(true);
const out = {};
out.pxe = await exchange(sock, packet(1, 0x5157a001), 67, '255.255.255.255', 0x5157a001);
// boot server discovery (port 4011) for the first menu item the offer names (option 43, sub-option 9)
const o43 = out.pxe[0]?.options['43'];
let item = null;
if (o43) { const v = Buffer.from(o43, 'hex'); for (let i = 0; i < v.length && v[i] !== 255;) { if (v[i] === 9 && !item) item = v.subarray(i + 2, i + 4); i += 2 + v[i + 1]; } }
if (item) {
  const s2 = dgram.createSocket('udp4');
  await new Promise((r) => s2.bind(0, '0.0.0.0', r));
  const sub = Buffer.concat([Buffer.from([71, 4]), item, Buffer.from([0, 0, 255])]);
  const req = packet(3, 0x5157a002, { extra: [opt(43, sub)], ciaddr: process.argv[5] });
  out.boot = await exchange(s2, req, 4011, server, 0x5157a002);
  s2.close();
}
out.ipxe = await exchange(sock, packet(1, 0x5157a003, { ipxe: true }), 67, '255.255.255.255', 0x5157a003);
sock.close();
// TFTP: RRQ, first DATA block
const t = dgram.createSocket('udp4');
await new Promise((r) => t.bind(0, '0.0.0.0', r));
out.tftp = await new Promise((resolve) => {
  const timer = setTimeout(() => resolve(null), 4000);
  t.on('message', (m, rinfo) => { clearTimeout(timer); t.send(Buffer.from([0, 4, m[2], m[3]]), rinfo.port, rinfo.address); resolve({ opcode: m.readUInt16BE(0), block: m.readUInt16BE(2), data: m.subarray(4).toString('hex'), from: rinfo.address }); });
  t.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)]), 69, server);
});
t.close();
// a path out of the TFTP root must be refused (a fresh socket: the first transfer's block 2 goes to the old one)
const t2 = dgram.createSocket('udp4');
await new Promise((r) => t2.bind(0, '0.0.0.0', r));
out.traversal = await new Promise((resolve) => {
  const timer = setTimeout(() => resolve(null), 4000);
  t2.on('message', (m) => { clearTimeout(timer); resolve({ opcode: m.readUInt16BE(0), text: m.subarray(4).toString('latin1').replace(/\0.*$/s, '') }); });
  t2.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from('../../../etc/passwd\0octet\0')]), 69, server);
});
t2.close();
console.log(JSON.stringify(out));
