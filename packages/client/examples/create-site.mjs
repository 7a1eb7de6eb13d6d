// Creates a WordPress site and follows its job log to the end, with an API token.
//   SLIPWAY_URL=https://panel.example.org SLIPWAY_API_TOKEN=slw_… node create-site.mjs blog.example.org
import { createSlipwayClient, followJobLog, SlipwayApiError } from '@slipway/client';

const domain = process.argv[2] ?? 'blog.example.org';
// The token goes in the Authorization header only: keep it in the environment, not in the script.
const api = createSlipwayClient({ baseUrl: process.env.SLIPWAY_URL, token: process.env.SLIPWAY_API_TOKEN });

try {
  const { user } = await api.call('getMe');
  console.log(`signed in as ${user.username} (${user.role})`);

  // 202 { job }: the site is created by a job on the panel.
  const { job } = await api.call('createSite', { body: { domain, type: 'wp', letsencrypt: 'off' } });
  console.log(`job ${job.id}: ${job.title}`);

  // Server-Sent Events until `end`; a dropped stream resumes after the last line it delivered.
  const end = await followJobLog(api, job.id, { onLine: (l) => console.log(`[${l.stream}] ${l.line}`) });
  console.log(`job ${end.job?.state ?? end.reason}`);

  const { site } = await api.call('getSite', { path: { domain }, query: { host: 'local' } });
  console.log(JSON.stringify(site, null, 2));
  process.exitCode = end.job?.state === 'succeeded' ? 0 : 1;
} catch (e) {
  if (!(e instanceof SlipwayApiError)) throw e;
  // Every error has the same shape: a stable code, a message, details.
  console.error(`${e.status} ${e.code}: ${e.message}`);
  process.exitCode = 1;
}
