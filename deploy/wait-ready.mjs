#!/usr/bin/env node
// Waits until the panel answers GET /api/v1/ready with 200, on SLIPWAY_LISTEN (host:port or
// unix:/path). Used by the systemd unit (ExecStartPost, the start health check) and by
// scripts/install.sh. Exit 0 when ready, 1 on timeout (the last answer or error is printed).
//   wait-ready.mjs [--timeout SECONDS]
import { request } from 'node:http';

const args = process.argv.slice(2);
const timeoutArg = args.indexOf('--timeout');
const timeoutMs = (timeoutArg >= 0 ? Number(args[timeoutArg + 1]) : 60) * 1000;
const listen = process.env.SLIPWAY_LISTEN || '127.0.0.1:8420';
const target = listen.startsWith('unix:')
  ? { socketPath: listen.slice('unix:'.length) }
  : (() => {
      const i = listen.lastIndexOf(':');
      return { host: listen.slice(0, i).replace(/^\[|\]$/g, '').replace(/^0\.0\.0\.0$|^::$/, '127.0.0.1'), port: Number(listen.slice(i + 1)) };
    })();

function ready() {
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/api/v1/ready', method: 'GET', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ ok: res.statusCode === 200, why: `HTTP ${res.statusCode} ${body.slice(0, 300)}` }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', (e) => resolve({ ok: false, why: e.message }));
    req.end();
  });
}

// Under systemd (ExecStartPost) MAINPID is the panel: when it is gone there is nothing to wait for.
const mainPid = Number(process.env.MAINPID) || 0;
function panelGone() {
  if (!mainPid) return false;
  try {
    process.kill(mainPid, 0);
    return false;
  } catch (e) {
    return e.code === 'ESRCH';
  }
}

const deadline = Date.now() + timeoutMs;
let last = 'not tried';
for (;;) {
  const r = await ready();
  if (r.ok) process.exit(0);
  last = r.why;
  if (panelGone()) {
    process.stderr.write(`slipway: the panel (pid ${mainPid}) exited before /api/v1/ready answered (last: ${last})\n`);
    process.exit(1);
  }
  if (Date.now() > deadline) break;
  await new Promise((res) => setTimeout(res, 250));
}
process.stderr.write(`slipway: /api/v1/ready did not answer 200 on ${listen} within ${timeoutMs / 1000} s (last: ${last})\n`);
process.exit(1);
