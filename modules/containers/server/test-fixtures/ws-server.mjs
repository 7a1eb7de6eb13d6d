// A tiny HTTP + WebSocket echo server for tests (runs inside the slipway-test/node-ws image).
// BODY: text answered to every HTTP request; START_DELAY_MS: delay before listening (a slow start);
// FAIL: exit at once with that message (a failing container).
import crypto from 'node:crypto';
import http from 'node:http';

if (process.env.FAIL) {
  console.error(`fatal: ${process.env.FAIL}`);
  process.exit(3);
}
const body = process.env.BODY ?? 'hello from node';
setTimeout(() => {
  const server = http.createServer((req, res) => {
    if (req.url === '/stream') {
      // A streaming response that stays open: counts as activity while it lasts.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('tick\n'), 200);
      req.on('close', () => clearInterval(t));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': 'node-ws' });
    res.end(body);
  });
  server.on('upgrade', (req, socket) => {
    const accept = crypto.createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', (buf) => {
      // Small masked client frames only (payload < 126 bytes): enough for an echo test.
      const opcode = buf[0] & 0x0f;
      if (opcode === 8) return void socket.end();
      const len = buf[1] & 0x7f;
      const mask = buf.subarray(2, 6);
      const payload = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]));
      socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
    });
    socket.on('error', () => {});
  });
  server.listen(Number(process.env.PORT ?? 80));
}, Number(process.env.START_DELAY_MS ?? 0));
