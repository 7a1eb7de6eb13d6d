#!/usr/bin/env node
// A stand-in for the `dokku` command (Dokku cannot be installed on test machines: its apt
// repository is not reachable). It reproduces what the commands the apps module uses print, on
// which stream, and with which exit code, as read from Dokku's own source:
//   github.com/dokku/dokku                  at 33896f5d7efc3b03d0ea94934d8413cddbce07fd (v0.38.27+)
//   github.com/dokku/dokku-letsencrypt      at bd8987d8a5ef4c019ba5c68ee2395e35b631abe5
//   github.com/dokku/sshcommand             at 0710655bd7a395c39e4165c2f0e3c591c0d33fc9
// Each block names the file and function its behaviour comes from. Nothing is copied: messages
// are the observable interface the adapter has to parse, written out here by hand.
//
// State: $FAKE_DOKKU_DIR/state.json (apps, images "on the host", git remotes, failure switches,
// pacing). Build records and logs live where the builds plugin keeps them, one JSON + one log per
// build (plugins/builds/builds.go RecordPath / LogPathFor), and the per-app deploy lock where
// common/functions acquire_app_deploy_lock puts it. Every call appends the argv it ended up with
// (after the SSH_ORIGINAL_COMMAND re-split, see below) to $FAKE_DOKKU_DIR/calls.jsonl.
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.FAKE_DOKKU_DIR;
if (!dir) {
  process.stderr.write('FAKE_DOKKU_DIR is not set\n');
  process.exit(70);
}

let argv = process.argv.slice(2);
let via = 'argv';
// dokku (main script, the `if [[ -n "$SSH_ORIGINAL_COMMAND" ]]` block): when reached through the
// sshcommand forced command (sshcommand `KEY_PREFIX`: `command="… \`cat ~/.sshcommand\`
// $SSH_ORIGINAL_COMMAND"`), dokku ignores the login shell's split and re-parses the original
// command line itself: commands matching the bash regex `git-*` are split on whitespace with
// globbing off; every other command goes through `xargs -n 1`, which honours '…', "…" and \.
const original = process.env.SSH_ORIGINAL_COMMAND;
if (original !== undefined && original !== '') {
  via = 'ssh';
  delete process.env.SSH_ORIGINAL_COMMAND;
  argv = /git-*/.test(argv[0] ?? '') ? original.split(/[ \t\n]+/).filter(Boolean) : xargsSplit(original);
}
appendFileSync(path.join(dir, 'calls.jsonl'), `${JSON.stringify({ argv, via, original: original ?? null, at: Date.now() })}\n`);

/** xargs' default (non -0) tokenizer: blanks and newlines separate; quotes cannot span lines. */
function xargsSplit(s) {
  const out = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"') {
      const end = s.indexOf(c, i + 1);
      const nl = s.indexOf('\n', i + 1);
      if (end < 0 || (nl >= 0 && nl < end)) {
        process.stderr.write(`xargs: unmatched ${c === "'" ? 'single' : 'double'} quote; by default quotes are special to xargs unless you use the -0 option\n`);
        process.exit(1);
      }
      cur += s.slice(i + 1, end);
      has = true;
      i = end;
    } else if (c === '\\') {
      cur += s[++i] ?? '';
      has = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

// ---- state ---------------------------------------------------------------------------------
const statePath = path.join(dir, 'state.json');
const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : {};
state.apps ??= {};
state.images ??= [];
state.repos ??= {};
state.fail ??= {};
state.globalDomain ??= 'dokku.example.net';
// Only a command that changed something writes the file back: a read (apps:report during a refresh)
// must never overwrite what a parallel `dokku` wrote meanwhile, as real Dokku's reads never do.
const loadedSnapshot = JSON.stringify(state);
const save = () => {
  const tmp = `${statePath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  renameSync(tmp, statePath); // atomic: a parallel `dokku` never reads half a file
};
// Deploys re-read the file before writing so parallel `dokku` processes do not lose each other's work.
const reload = () => Object.assign(state, JSON.parse(readFileSync(statePath, 'utf8')));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const delay = () => Number(state.deployDelayMs ?? 0);

// ---- output (plugins/common/functions dokku_log_*, plugins/common/log.go) -----------------
let logFd = null; // dokku_setup_build_capture tees everything into the build log
const emit = (fd, s) => {
  writeSync(fd, s);
  if (logFd !== null) writeSync(logFd, s);
};
const out = (s) => emit(1, `${s}\n`);
const err = (s) => emit(2, `${s}\n`);
const info1 = (s) => out(`-----> ${s}`); // dokku_log_info1 / LogInfo1
const info2 = (s) => out(`=====> ${s}`); // dokku_log_info2 / LogInfo2
const verbose = (s) => out(`       ${s}`); // dokku_log_verbose / LogVerbose
const warn = (s) => err(` !     ${s}`); // dokku_log_warn / LogWarn (stderr)
/** dokku_log_fail / LogFailWithError: ` !     ` on stderr, exit DOKKU_FAIL_EXIT_CODE (default 1). */
function fail(s, code = 1) {
  err(` !     ${s}`);
  finish(code);
}
function finish(code) {
  // A deploy saves explicitly (re-read first): it runs for a while and must not overwrite what
  // other `dokku` processes changed meanwhile.
  if (!current && JSON.stringify(state) !== loadedSnapshot) save();
  if (logFd !== null) closeSync(logFd);
  process.exit(code);
}

// parse_args (plugins/common/functions): global flags are recognised anywhere on the line.
const globalForce = argv.includes('--force');
const quiet = argv.includes('--quiet');
const [cmd, ...rest] = argv;
// pflag (Go plugins) consumes the value of a value-taking flag; bash plugins see no such flags here.
const VALUE_FLAGS = new Set(['--format', '--num', '-n', '--kind', '--status', '--build-dir', '--app', '--ps', '-p']);
const positional = rest.filter((a, i) => !a.startsWith('-') && !VALUE_FLAGS.has(rest[i - 1]));
const flagValue = (name) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};

// common.go IsValidAppName / VerifyAppName; functions verify_app_name (exit 20, AppDoesNotExist.ExitCode).
const APP_RE = /^[a-z0-9][a-z0-9.-]*$/;
const APP_RULE = 'App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens';
function verifyApp(name) {
  if (!name) fail('Please specify an app to run the command on');
  if (!APP_RE.test(name) && !/^[a-z0-9][a-z0-9._-]*$/.test(name)) fail(APP_RULE);
  const app = state.apps[name];
  if (!app) fail(`App ${name} does not exist`, 20);
  return app;
}

// common.go ReportSingleApp, format json: one flat JSON object of strings, keys with the
// `--<type>-` prefix trimmed when TrimPrefix is set (plus the legacy `<type>-…` keys when
// EmitLegacyPrefix is set); Go's encoding/json writes map keys sorted.
function report(type, appName, flags, { legacy }) {
  const format = flagValue('--format') ?? 'stdout';
  if (format !== 'stdout' && format !== 'json') fail(`Format must be "stdout" or "json": "${format}"`);
  if (format === 'json') {
    const data = {};
    for (const [k, v] of Object.entries(flags)) {
      const bare = k.replace(/^--/, '');
      if (k.startsWith(`--${type}-`)) {
        data[k.slice(type.length + 3)] = v;
        if (legacy) data[bare] = v;
      } else data[bare] = v;
    }
    out(JSON.stringify(Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)))));
    return;
  }
  if (!quiet) info2(`${appName} ${type} information`);
  const width = Math.max(31, ...Object.keys(flags).map((k) => k.length));
  for (const k of Object.keys(flags).sort()) {
    const key = k.replace(/^--/, '').replace(/[-.]/g, ' ');
    verbose(`${(key[0].toUpperCase() + key.slice(1) + ':').padEnd(width)}${flags[k]}`);
  }
}

function newApp() {
  return {
    createdAt: Math.floor(Date.now() / 1000), deploySource: '', deploySourceMetadata: '', image: null, gitSha: '', sourceImage: '',
    env: {}, vhosts: [], scale: { web: 1 }, deployed: false, running: false, containers: {},
    checks: { disabled: '', skipped: '', waitToRetire: '' }, ports: [], letsencrypt: { email: '', active: false, expiration: '' },
    failChecks: false,
  };
}

// ---- builds (plugins/builds/builds.go) -----------------------------------------------------
const buildsDir = (app) => path.join(dir, 'data', 'builds', app);
const lockPath = (app) => path.join(dir, 'data', 'apps', app, '.deploy.lock');
const recordPath = (app, id) => path.join(buildsDir(app), `${id}.json`);
/** GenerateBuildID: 8 base36 chars of the ms timestamp + 6 of randomness. */
const buildId = () => Date.now().toString(36).padStart(8, '0').slice(-8) + BigInt(`0x${randomBytes(6).toString('hex')}`).toString(36).padStart(6, '0').slice(-6);
const readBuild = (app, id) => JSON.parse(readFileSync(recordPath(app, id), 'utf8'));
const writeBuild = (b) => {
  mkdirSync(buildsDir(b.app), { recursive: true });
  writeFileSync(recordPath(b.app, b.id), JSON.stringify(b, null, 2));
};
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Build.DisplayStatus: a running record whose pid is gone reads as "abandoned". */
const displayStatus = (b) => (b.status === 'running' && !alive(b.pid) ? 'abandoned' : b.status);
/** time.Duration.String() rounded to seconds, as Build.Duration() returns it. */
function goDuration(ms) {
  let s = Math.max(0, Math.round(ms / 1000));
  if (s === 0) return '0s';
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
const listView = (b) => ({
  ...b,
  display_status: displayStatus(b),
  duration: goDuration((b.finished_at ? Date.parse(b.finished_at) : Date.now()) - Date.parse(b.started_at)),
  log_path: path.join(buildsDir(b.app), `${b.id}.log`),
});
const fetchBuilds = (app) =>
  existsSync(buildsDir(app))
    ? readdirSync(buildsDir(app)).filter((f) => f.endsWith('.json')).map((f) => readBuild(app, f.slice(0, -5))).sort((a, b) => (a.started_at < b.started_at ? 1 : -1))
    : [];

let current = null;
/** dokku_setup_build_capture: a build id, a "running" record and a log that receives all output. */
function startCapture(app, source) {
  const id = buildId();
  current = { id, app, kind: 'build', pid: process.pid, started_at: new Date().toISOString(), status: 'running', source };
  writeBuild(current);
  logFd = openSync(path.join(buildsDir(app), `${id}.log`), 'w');
}
/** builds-record-finalize: succeeded on exit 0, failed otherwise. */
function finalize(exitCode) {
  if (!current) return;
  let b;
  try {
    b = readBuild(current.app, current.id);
  } catch {
    return;
  }
  if (b.status !== 'running') return; // builds:cancel already wrote "canceled"
  writeBuild({ ...b, status: exitCode === 0 ? 'succeeded' : 'failed', finished_at: new Date().toISOString(), exit_code: exitCode });
}

/**
 * acquire_app_deploy_lock "$APP" "exclusive" (git/functions git_receive_app): a second deploy
 * fails at once. Dokku uses flock(1), released when the holder dies; the fake emulates that by
 * taking over a lock whose build's pid is gone.
 */
function acquireLock(app) {
  const p = lockPath(app);
  mkdirSync(path.dirname(p), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(p, 'wx');
      writeSync(fd, `${current.id}\n`);
      closeSync(fd);
      return;
    } catch {
      const holder = readFileSync(p, 'utf8').trim();
      let holderAlive = false;
      try {
        holderAlive = alive(readBuild(app, holder).pid);
      } catch {
        holderAlive = false;
      }
      if (holderAlive) {
        warn(`${app} currently has a deploy lock in place. Exiting...`);
        finalize(1);
        fail("Run 'apps:unlock' to release the existing deploy lock");
      }
      rmSync(p, { force: true });
    }
  }
}
function releaseLock(app) {
  try {
    if (readFileSync(lockPath(app), 'utf8').trim() === current?.id) rmSync(lockPath(app), { force: true });
  } catch {
    /* already gone (builds:cancel removes it) */
  }
}

// Killed by builds:cancel (killProcessGroup sends SIGQUIT) or by the caller: end without finalizing.
for (const sig of ['SIGQUIT', 'SIGTERM', 'SIGINT']) process.on(sig, () => {
  if (logFd !== null) closeSync(logFd);
  process.exit(128 + ({ SIGQUIT: 3, SIGTERM: 15, SIGINT: 2 })[sig]);
});

const sha1 = (s) => createHash('sha1').update(s).digest('hex');
const urls = (name, app) => (app.vhosts.length ? app.vhosts : [`${name}.${state.globalDomain}`]).map((d) => `http://${d}`);

/**
 * The build + release + deploy phases, paced so a caller can watch lines arrive:
 * builder-dockerfile/builder-build ("Building $APP from Dockerfile"), common/docker.go
 * ("Cleaning up..."), common/functions release_and_deploy ("Releasing $APP...", "Deploying $APP
 * via the $DOKKU_SCHEDULER scheduler...", "Application deployed:" + domains-urls indented),
 * scheduler-docker-local bin/scheduler-deploy-process ("Deploying $PROC_TYPE (count=N)") and
 * bin/scheduler-deploy-process-container ("Attempting pre-flight checks", "Scheduling old
 * container shutdown in N seconds"), scheduler-docker-local/check-deploy ("Could not start due to
 * N failed checks", "All checks successful"), scheduler-deploy ("Running post-deploy").
 */
async function buildAndDeploy(name, image, { source, metadata, sha }) {
  const app = state.apps[name];
  acquireLock(name);
  const step = async (fn) => {
    fn();
    await sleep(delay());
  };
  await step(() => info1('Cleaning up...'));
  await step(() => info1(`Building ${name} from Dockerfile`));
  // BuildKit's plain progress, with a `\r`-rewritten transfer line as docker prints on a terminal.
  await step(() => out('#1 [internal] load build definition from Dockerfile'));
  await step(() => emit(1, '#2 transferring context: 0B\r#2 transferring context: 2.10kB\r#2 transferring context: 4.20kB done\n'));
  await step(() => out(`#3 [1/1] FROM ${image}`));
  if (app.env.BUILD_SECRET_ECHO) await step(() => out(`#4 RUN echo token=${app.env.BUILD_SECRET_ECHO}`));
  await step(() => out('#5 exporting to image'));
  await step(() => info1(`Releasing ${name}...`));
  await step(() => info1(`Deploying ${name} via the docker-local scheduler...`));
  const procs = Object.entries(app.scale).filter(([, n]) => n > 0);
  const checksDisabled = app.checks.disabled === '_all_';
  for (const [proc, count] of procs) {
    await step(() => info1(`Deploying ${proc} (count=${count})`));
    for (let i = 1; i <= count; i++) {
      if (!checksDisabled) {
        await step(() => verbose(`Attempting pre-flight checks (${proc}.${i})`));
        const failing = app.failChecks || (state.failChecksImages ?? []).includes(image);
        if (failing) {
          await step(() => out(`       Healthcheck failed: web check (${proc}.${i}): expected status 200, got 502`));
          warn(`Could not start due to 1 failed checks (${proc}.${i})`);
          releaseLock(name);
          finalize(1);
          finish(1); // the old containers stay: the previous release keeps serving
        }
        await step(() => verbose(`All checks successful (${proc}.${i})`));
      }
      if (app.running) await step(() => verbose(`Scheduling old container shutdown in ${app.checks.waitToRetire || 60} seconds (${proc}.${i})`));
    }
  }
  await step(() => info1('Running post-deploy'));
  reload();
  const fresh = state.apps[name];
  if (!fresh) fail(`App ${name} does not exist`, 20);
  Object.assign(fresh, {
    image, deployed: true, running: true, deploySource: source, deploySourceMetadata: metadata, gitSha: sha ?? sha1(`${image}`),
    sourceImage: source === 'docker-image' ? image : '',
    containers: Object.fromEntries(procs.flatMap(([p, n]) => Array.from({ length: n }, (_, i) => [`${p}.${i + 1}`, randomBytes(32).toString('hex')]))),
  });
  save();
  info2('Application deployed:');
  for (const u of urls(name, fresh)) out(`       ${u}`);
  out('');
  releaseLock(name);
  finalize(0);
  finish(0);
}

// ---- commands ------------------------------------------------------------------------------
async function main() {
  if (cmd === undefined || cmd === 'help') {
    out('Usage: dokku [--quiet|--trace|--force] COMMAND <app> [command-specific-options]');
    return finish(0);
  }
  if (cmd === 'version' || cmd === '--version') {
    out('dokku version 0.38.27'); // dokku_version
    return finish(0);
  }
  switch (cmd) {
    // plugins/apps/subcommands.go
    case 'apps:list': {
      const names = Object.keys(state.apps).sort();
      if (flagValue('--format') === 'json') out(JSON.stringify(names)); // CommandList json: `[]` when none
      else {
        if (!quiet) info2('My Apps');
        if (!names.length) warn("You haven't deployed any applications yet");
        for (const n of names) out(n);
      }
      return finish(0);
    }
    case 'apps:exists':
      verifyApp(positional[0]);
      return finish(0);
    case 'apps:create': {
      const name = positional[0];
      if (!name) fail('Please specify an app to run the command on');
      if (!APP_RE.test(name)) fail(APP_RULE); // CommandCreate -> IsValidAppName
      if (state.apps[name]) fail('Name is already taken'); // createApp
      info1(`Creating ${name}...`);
      state.apps[name] = newApp();
      return finish(0);
    }
    case 'apps:destroy': {
      const name = positional[0];
      verifyApp(name);
      // destroyApp: without --force, AskForDestructiveConfirmation reads a line from stdin.
      if (!globalForce) {
        warn('WARNING: Potentially Destructive Action');
        warn(`This command will destroy app ${name}.`);
        warn(`To proceed, type "${name}"`);
        emit(1, '> ');
        let answer = '';
        try {
          answer = readFileSync(0, 'utf8').split('\n')[0].trim();
        } catch {
          answer = '';
        }
        if (answer !== name) {
          err('Confirmation did not match test. Aborted.'); // sic: common.go prints "test"
          return finish(1);
        }
      }
      info1(`Destroying ${name} (including all add-ons)`);
      delete state.apps[name];
      rmSync(buildsDir(name), { recursive: true, force: true });
      rmSync(path.dirname(lockPath(name)), { recursive: true, force: true });
      info1('Retiring old containers and images');
      return finish(0);
    }
    case 'apps:report': {
      const name = positional[0];
      const app = verifyApp(name);
      // plugins/apps/report.go ReportSingleApp: TrimPrefix + EmitLegacyPrefix
      return (report('app', name, {
        '--app-created-at': String(app.createdAt), '--app-deploy-source': app.deploySource, '--app-deploy-source-metadata': app.deploySourceMetadata,
        '--app-dir': `/home/dokku/${name}`, '--app-global-disable-autocreation': '', '--app-locked': String(existsSync(lockPath(name))),
      }, { legacy: true }), finish(0));
    }
    case 'apps:unlock': {
      verifyApp(positional[0]);
      rmSync(lockPath(positional[0]), { force: true });
      info1('Deploy lock removed');
      return finish(0);
    }

    // plugins/git/internal-functions cmd-git-from-image, git-from-image trigger
    case 'git:from-image': {
      const args = rest.filter((a) => a !== '--force');
      const [name, image] = args;
      verifyApp(name);
      if (!image) fail('Please specify a docker image');
      startCapture(name, 'git:from-image');
      info1('Generating build context');
      await sleep(delay());
      const known = state.images.includes(image);
      if (!known || globalForce) {
        info1(known ? 'Force pulling image' : 'Pulling image');
        if ((state.fail.pullImages ?? []).includes(image) || state.fail.pull) {
          err(`Error response from daemon: pull access denied for ${image.split(':')[0]}, repository does not exist or may require 'docker login'`);
          finalize(1);
          fail(`Failed to pull image: ${image}`);
        }
        // docker pull progress: layers rewritten in place with `\r` and ANSI cursor moves on a TTY.
        emit(1, `${image.split(':')[1] ?? 'latest'}: Pulling from ${image.split(':')[0]}\n`);
        emit(1, '\x1b[1A\x1b[2K4f4fb700ef54: Downloading [=>        ]  1.2MB/10MB\r\x1b[2K4f4fb700ef54: Downloading [=====>    ]  6.1MB/10MB\r\x1b[2K4f4fb700ef54: Pull complete\n');
        out(`Status: Downloaded newer image for ${image}`);
        reload();
        state.images.push(image);
        save();
      } else info1('Image exists on host, skipping pull');
      await sleep(delay());
      return buildAndDeploy(name, image, { source: 'docker-image', metadata: image });
    }
    // plugins/git/internal-functions cmd-git-sync (+ receive-app -> git_receive_app)
    case 'git:sync': {
      const build = rest.includes('--build') || rest.includes('--build-if-changes');
      const [name, remote, ref] = rest.filter((a) => !['--build', '--build-if-changes', '--skip-deploy-branch'].includes(a));
      const app = verifyApp(name);
      if (!remote) fail('Missing GIT_REMOTE parameter');
      const repo = state.repos[remote];
      const first = !app.gitRemote;
      startCapture(name, 'git:sync');
      if (first) info1(`Cloning ${name} from ${remote}#${ref ?? ''}`);
      else verbose(`Fetching remote code for ${name} from ${remote}#${ref ?? ''}`);
      await sleep(delay());
      if (!repo) {
        err(`remote: Repository not found.`);
        err(`fatal: repository '${remote}' not found`);
        finalize(128);
        return finish(128);
      }
      const sha = ref && /^[0-9a-f]{40}$/.test(ref) ? ref : repo.refs?.[ref ?? repo.defaultBranch ?? 'main'];
      if (!sha) {
        err(`fatal: couldn't find remote ref ${ref}`);
        finalize(128);
        return finish(128);
      }
      // fn-git-* prints git's own progress with `\e[1G\e[K` line clears (git/functions)
      emit(1, '\x1b[1G\x1b[KReceiving objects:  50% (5/10)\r\x1b[1G\x1b[KReceiving objects: 100% (10/10), done.\n');
      reload();
      if (state.apps[name]) state.apps[name].gitRemote = remote;
      save();
      if (!build) return finish(0);
      return buildAndDeploy(name, `dokku/${name}:latest`, { source: 'git-sync', metadata: `${remote}#${sha}`, sha });
    }
    case 'git:report': {
      const name = positional[0];
      const app = verifyApp(name);
      // plugins/git/report.go: TrimPrefix, no legacy keys
      return (report('git', name, {
        '--git-deploy-branch': '', '--git-computed-deploy-branch': 'master', '--git-global-deploy-branch': 'master', '--git-keep-git-dir': '',
        '--git-rev-env-var': '', '--git-sha': app.gitSha, '--git-source-image': app.sourceImage, '--git-last-updated-at': '',
      }, { legacy: false }), finish(0));
    }

    // plugins/builds/subcommands.go + src/subcommands
    case 'builds:list': {
      const name = positional[0];
      const format = flagValue('--format') ?? 'stdout';
      if (format !== 'stdout' && format !== 'json') fail('Invalid format specified, supported formats: json, stdout');
      let views;
      if (!name) views = Object.keys(state.apps).flatMap((a) => fetchBuilds(a)).filter((b) => b.status === 'running').map(listView);
      else {
        verifyApp(name);
        views = fetchBuilds(name).map(listView);
      }
      if (format === 'json') out(JSON.stringify(views));
      else if (!views.length) out(name ? 'No builds recorded for this app' : 'No builds currently running');
      else for (const v of views) out(`${v.id}  ${v.kind}  ${v.display_status}  ${v.pid}  ${v.source}  ${v.started_at}  ${v.duration}`);
      return finish(0);
    }
    case 'builds:cancel': {
      const name = positional[0];
      verifyApp(name);
      if (!existsSync(lockPath(name))) return (info1('App not currently deploying'), finish(0));
      const id = readFileSync(lockPath(name), 'utf8').trim();
      if (!id) return (info1('No matching app deploy found'), finish(0));
      let b;
      try {
        b = readBuild(name, id);
      } catch {
        info1(`No build record for ${id}, removing stale lock file`);
        rmSync(lockPath(name), { force: true });
        return finish(0);
      }
      if (b.status !== 'running') return (info1(`Build ${id} is no longer running (status=${b.status}); leaving record untouched`), finish(0));
      const now = new Date().toISOString();
      if (!alive(b.pid)) {
        info1('Build was already terminated, marking failed');
        writeBuild({ ...b, status: 'failed', finished_at: now, exit_code: -1 });
        rmSync(lockPath(name), { force: true });
        return finish(0);
      }
      info1('Killing app deploy');
      // killProcessGroup: SIGQUIT to the build's process group. Real Dokku signals the group
      // found by getpgid(pid); under sshd every session leads its own group. The fake signals the
      // group only when the build leads one, so a test runner sharing a group is never hit.
      const pgrp = Number(readFileSync(`/proc/${b.pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[2]);
      try {
        process.kill(pgrp === b.pid ? -pgrp : b.pid, 'SIGQUIT');
      } catch (e) {
        warn(`Failed to signal process group ${pgrp}: ${e.message}`);
      }
      writeBuild({ ...readBuild(name, id), status: 'canceled', finished_at: now, exit_code: -1 });
      rmSync(lockPath(name), { force: true });
      return finish(0);
    }
    // plugins/builds/subcommands.go CommandOutput (dokku/dokku 33896f5d7efc, v0.38.x):
    //   `builds:output <app> [<build-id>|current]`; no id or `current` reads the id from the deploy
    //   lock ("App not currently deploying" / "No matching app deploy found", LogInfo1, exit 0);
    //   the log is LogPathFor(app, id) = <builds dir>/<app>/<id>.log; a missing file falls back to
    //   journalctl, and without it the error "log file missing and journalctl not available for
    //   build <id>" (printed by dokku as ` !     …` on stderr, exit 1); a record that is running
    //   with a live pid is followed (`tail -n 1000 -f`), any other is printed whole (`cat`) with
    //   the captured lines exactly as the build wrote them (colours and \r included).
    case 'builds:output': {
      const [name, idArg] = positional;
      verifyApp(name);
      let id = idArg;
      if (!id || id === 'current') {
        if (!existsSync(lockPath(name))) return (info1('App not currently deploying'), finish(0));
        id = readFileSync(lockPath(name), 'utf8').trim();
        if (!id) return (info1('No matching app deploy found'), finish(0));
      }
      const log = path.join(buildsDir(name), `${id}.log`);
      if (!existsSync(log)) fail(`log file missing and journalctl not available for build ${id}`);
      let rec = null;
      try {
        rec = readBuild(name, id);
      } catch {
        /* no record: cat */
      }
      if (rec && rec.status === 'running' && alive(rec.pid)) {
        // `tail -n 1000 -f`: the last 1000 lines, then what is appended. Real tail follows for
        // ever; the fake stops once the build is no longer running, so a test cannot hang.
        const all = readFileSync(log);
        const text = all.toString('utf8').split('\n');
        process.stdout.write(text.slice(-1001).join('\n'));
        let pos = all.length;
        for (;;) {
          await new Promise((r) => setTimeout(r, 100));
          const now = readFileSync(log);
          if (now.length > pos) process.stdout.write(now.subarray(pos));
          pos = now.length;
          const b = readBuild(name, id);
          if (b.status !== 'running' || !alive(b.pid)) break;
        }
        return finish(0);
      }
      process.stdout.write(readFileSync(log)); // `cat`
      return finish(0);
    }

    // plugins/ps/report.go, functions.go scaleReport / parseProcessTuples / updateScale
    case 'ps:report': {
      const name = positional[0];
      const app = verifyApp(name);
      const flags = {
        '--deployed': String(app.deployed), '--processes': String(app.running ? Object.keys(app.containers).length : 0),
        '--ps-can-scale': 'true', '--ps-restart-policy': 'on-failure:10', '--ps-computed-restart-policy': 'on-failure:10', '--restore': 'true',
        // getRunningState: second word of scheduler-app-status ("true" | "false" | "mixed")
        '--running': String(app.running && Object.keys(app.containers).length > 0),
      };
      for (const [proc, cid] of Object.entries(app.containers)) flags[`--status-${proc}`] = `${app.running ? 'running' : 'exited'} (CID: ${cid.slice(0, 11)})`;
      return (report('ps', name, flags, { legacy: true }), finish(0));
    }
    case 'ps:scale': {
      const name = positional[0];
      const app = verifyApp(name);
      const tuples = positional.slice(1);
      if (!tuples.length) {
        const list = Object.entries(app.scale).map(([process_type, quantity]) => ({ process_type, quantity }));
        if (flagValue('--format') === 'json') out(JSON.stringify(list));
        else {
          if (!quiet) info1(`Scaling for ${name}`);
          out('proctype: qty');
          out('--------: ---');
          for (const f of list) out(`${`${f.process_type}:`.padEnd(5)} ${f.quantity}`);
        }
        return finish(0);
      }
      info1(`Scaling ${name} processes: ${tuples.join(' ')}`);
      for (const t of tuples) {
        const [p, q] = t.split(/=(.*)/s);
        if (q === undefined) fail(`Missing count for process type ${t}`);
        if (!/^\s*-?\d+\s*$/.test(q)) fail(`Invalid count for process type ${p}`);
        if ((app.procfile ?? ['web']).indexOf(p.trim()) < 0 && Number(q) !== 0) fail(`${p.trim()} is not a valid process name to scale up`);
        app.scale[p.trim()] = Number(q);
      }
      return finish(0);
    }
    case 'ps:start':
    case 'ps:stop':
    case 'ps:restart':
    case 'ps:rebuild': {
      const name = positional[0];
      const app = verifyApp(name);
      if (!app.deployed) {
        if (cmd === 'ps:rebuild') fail(`App ${name} has not been deployed`);
        info1(`App ${name} has not been deployed`); // ps Start/Restart skip undeployed apps
        return finish(0);
      }
      if (cmd === 'ps:stop') {
        info1(`Stopping ${name}`);
        app.running = false;
        return finish(0);
      }
      if (cmd === 'ps:start' && app.running) {
        info1(`App ${name} already running`);
        return finish(0);
      }
      if (cmd === 'ps:rebuild') {
        startCapture(name, 'ps:rebuild');
        return buildAndDeploy(name, app.image, { source: app.deploySource, metadata: app.deploySourceMetadata, sha: app.gitSha });
      }
      info1(`Releasing ${name}...`);
      info1(`Deploying ${name} via the docker-local scheduler...`);
      app.running = true;
      info2('Application deployed:');
      for (const u of urls(name, app)) out(`       ${u}`);
      return finish(0);
    }

    // plugins/config: src/subcommands (pflag), functions.go SubSet/SubShow/SubUnset,
    // config.go SetMany/UnsetMany/validateKey, environment.go JSONString / prettyPrintEnvEntries
    case 'config:export': {
      const name = positional[0];
      const app = verifyApp(name);
      const format = flagValue('--format') ?? 'exports';
      const keys = Object.keys(app.env).sort();
      if (format === 'json') out(JSON.stringify(Object.fromEntries(keys.map((k) => [k, app.env[k]]))));
      else if (format === 'json-list') out(JSON.stringify(keys.map((k) => ({ name: k, value: app.env[k] }))));
      else if (format === 'exports') out(keys.map((k) => `export ${k}='${app.env[k].replace(/'/g, "'\\''")}'`).join('\n'));
      else fail(`Unknown export format: ${format}`);
      return finish(0);
    }
    case 'config:show': {
      const name = positional[0];
      const app = verifyApp(name);
      if (!quiet) info2(`${name} env vars`);
      const keys = Object.keys(app.env).sort();
      const w = Math.max(0, ...keys.map((k) => k.length + 1));
      out(keys.map((k) => `${`${k}:`.padEnd(w)}  ${app.env[k]}`).join('\n'));
      return finish(0);
    }
    case 'config:set': {
      const encoded = rest.includes('--encoded');
      const noRestart = rest.includes('--no-restart');
      const [name, ...pairs] = positional;
      const app = verifyApp(name);
      if (!pairs.length) fail('At least one env pair must be given');
      const updated = {};
      for (const p of pairs) {
        const i = p.indexOf('=');
        if (i < 0) fail(`Invalid env pair: ${p}`);
        const key = p.slice(0, i);
        let value = p.slice(i + 1);
        if (encoded) {
          if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) fail(`illegal base64 data at input byte 0 for key '${key}'`);
          value = Buffer.from(value, 'base64').toString('utf8');
        }
        updated[key] = value;
      }
      for (const k of Object.keys(updated)) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) fail(`Invalid key name: '${k}'`);
      Object.assign(app.env, updated);
      if (!quiet) {
        info1('Setting config vars');
        const w = Math.max(...Object.keys(updated).map((k) => k.length + 1));
        for (const k of Object.keys(updated).sort()) out(`       ${`${k}:`.padEnd(w)}  ${updated[k]}`); // the values are printed
      }
      if (!noRestart && app.deployed) {
        info1(`Releasing ${name}...`);
        info1(`Deploying ${name} via the docker-local scheduler...`);
        info2('Application deployed:');
        for (const u of urls(name, app)) out(`       ${u}`);
      }
      return finish(0);
    }
    case 'config:unset': {
      const noRestart = rest.includes('--no-restart');
      const [name, ...keys] = positional;
      const app = verifyApp(name);
      if (!keys.length) fail('At least one key must be given');
      let changed = false;
      for (const k of keys) {
        if (k in app.env) {
          info1(`Unsetting ${k}`);
          delete app.env[k];
          changed = true;
        } else info1(`Skipping ${k}, it is not set in the environment`);
      }
      if (changed && !noRestart && app.deployed) {
        info1(`Releasing ${name}...`);
        info1(`Deploying ${name} via the docker-local scheduler...`);
      }
      return finish(0);
    }

    // plugins/domains: functions domains_add/domains_remove/domains_set + is_valid_hostname, report.go
    case 'domains:report': {
      const name = positional[0];
      const app = verifyApp(name);
      return (report('domains', name, {
        '--domains-app-enabled': String(app.vhosts.length > 0), '--domains-app-vhosts': app.vhosts.join(' '),
        '--domains-global-enabled': 'true', '--domains-global-vhosts': state.globalDomain,
      }, { legacy: false }), finish(0));
    }
    case 'domains:add':
    case 'domains:set':
    case 'domains:remove': {
      const [name, ...domains] = positional;
      const app = verifyApp(name);
      if (!domains.length) fail('Please specify a domain name');
      const valid = (d) => d.toLowerCase() === '_' || /^[a-z0-9.*-]*[a-z0-9*-]$/.test(d.toLowerCase());
      if (cmd !== 'domains:remove') for (const d of domains) if (!valid(d)) fail(`${d} is invalid. exiting...`);
      if (cmd === 'domains:add') {
        for (const d of domains) {
          if (app.vhosts.includes(d)) info1(`Skipping: ${d} already added to ${name}`);
          else {
            app.vhosts.push(d);
            info1(`Added ${d} to ${name}`);
          }
        }
      } else if (cmd === 'domains:set') {
        app.vhosts = [...new Set(domains)];
        info1(`Set ${domains.join(' ')} for ${name}`);
      } else {
        for (const d of domains) {
          app.vhosts = app.vhosts.filter((v) => v !== d);
          info1(`Removed ${d} from ${name}`);
        }
      }
      return finish(0);
    }

    // dokku-letsencrypt: command-functions cmd-letsencrypt-enable/disable/report-single,
    // internal-functions fn-letsencrypt-enable, fn-letsencrypt-check-email, fn-letsencrypt-report-emit-json
    case 'letsencrypt:set': {
      const [name, prop, value] = positional;
      const app = verifyApp(name);
      if (prop !== 'email') fail(`Invalid key specified: ${prop}`);
      app.letsencrypt.email = value ?? '';
      info2(value ? `Setting ${prop} to ${value}` : `Unsetting ${prop}`);
      return finish(0);
    }
    case 'letsencrypt:enable': {
      const name = positional[0];
      const app = verifyApp(name);
      if (!app.vhosts.length) {
        warn(`No domains detected for ${name}`);
        return finish(1);
      }
      info2(`Enabling letsencrypt for ${name}`);
      if (!app.letsencrypt.email) {
        warn('ERROR: Cannot request a certificate without an e-mail address!');
        warn('  please provide your e-mail address using');
        warn(`  dokku letsencrypt:set ${name} email <e-mail>`);
        return finish(1);
      }
      if (state.fail.letsencrypt) {
        out(`[${app.vhosts[0]}] acme: error: 400 :: urn:ietf:params:acme:error:connection :: Timeout during connect`);
        warn('Failed to setup letsencrypt');
        fail('Check log output for further information on failure');
      }
      app.letsencrypt.active = true;
      app.letsencrypt.expiration = String(Math.floor(Date.now() / 1000) + (state.certDays ?? 90) * 86400);
      info1('Done');
      return finish(0);
    }
    case 'letsencrypt:disable': {
      const name = positional[0];
      const app = verifyApp(name);
      info1('Disabling letsencrypt for app');
      verbose(`Removing letsencrypt files for ${name}`);
      verbose(`Removing SSL endpoint from ${name}`);
      app.letsencrypt.active = false;
      app.letsencrypt.expiration = '';
      info1('Done');
      return finish(0);
    }
    case 'letsencrypt:report': {
      const name = positional[0];
      const app = verifyApp(name);
      const flags = {
        '--letsencrypt-active': String(app.letsencrypt.active), '--letsencrypt-autorenew': 'true', '--letsencrypt-computed-email': app.letsencrypt.email,
        '--letsencrypt-email': app.letsencrypt.email, '--letsencrypt-global-email': '', '--letsencrypt-expiration': app.letsencrypt.expiration,
        '--letsencrypt-computed-graceperiod': '2592000', '--letsencrypt-computed-server': 'https://acme-v02.api.letsencrypt.org/directory',
      };
      // fn-letsencrypt-report-emit-json: jq-built object, keys in flag_map order, prefix stripped
      if (flagValue('--format') === 'json') out(JSON.stringify(Object.fromEntries(Object.entries(flags).map(([k, v]) => [k.slice('--letsencrypt-'.length), v]))));
      else report('letsencrypt', name, flags, { legacy: false });
      return finish(0);
    }

    // plugins/checks: subcommands/enable|disable|skip|set, report.go (TrimPrefix, no legacy)
    case 'checks:report': {
      const name = positional[0];
      const app = verifyApp(name);
      return (report('checks', name, {
        '--checks-disabled-list': app.checks.disabled || 'none', '--checks-skipped-list': app.checks.skipped || 'none',
        '--checks-wait-to-retire': app.checks.waitToRetire, '--checks-global-wait-to-retire': '', '--checks-computed-wait-to-retire': app.checks.waitToRetire || '60',
      }, { legacy: false }), finish(0));
    }
    case 'checks:enable':
    case 'checks:disable':
    case 'checks:skip': {
      const [name, procs = '_all_'] = positional;
      const app = verifyApp(name);
      const list = (s) => (s ? s.split(',').filter(Boolean) : []);
      const verb = { 'checks:enable': 'Enabling', 'checks:disable': 'Disabling', 'checks:skip': 'Skipping' }[cmd];
      info1(procs === '_all_' ? `${verb} zero downtime for app (${name})` : `${verb} zero downtime for app's (${name}) proctypes (${procs})`);
      let disabled = list(app.checks.disabled);
      let skipped = list(app.checks.skipped);
      const ps = procs === '_all_' ? ['_all_'] : list(procs);
      if (cmd === 'checks:enable') {
        disabled = procs === '_all_' ? [] : disabled.filter((p) => !ps.includes(p));
        skipped = procs === '_all_' ? [] : skipped.filter((p) => !ps.includes(p));
      } else if (cmd === 'checks:disable') {
        disabled = procs === '_all_' ? ['_all_'] : [...new Set([...disabled.filter((p) => p !== '_all_'), ...ps])];
        skipped = procs === '_all_' ? [] : skipped.filter((p) => !ps.includes(p));
      } else {
        skipped = procs === '_all_' ? ['_all_'] : [...new Set([...skipped.filter((p) => p !== '_all_'), ...ps])];
        disabled = procs === '_all_' ? [] : disabled.filter((p) => !ps.includes(p));
      }
      app.checks.disabled = disabled.join(',');
      app.checks.skipped = skipped.join(',');
      return finish(0);
    }
    case 'checks:set': {
      const [name, key, value] = positional;
      const app = verifyApp(name);
      if (!key) fail('No key specified');
      if (key !== 'wait-to-retire') fail('Invalid key specified, valid keys include: wait-to-retire');
      app.checks.waitToRetire = value ?? '';
      if (!quiet) info2(value ? `Setting ${key} to ${value}` : `Unsetting ${key}`);
      return finish(0);
    }

    // plugins/ports: subcommands.go CommandAdd/Set/Remove/Clear, functions.go parsePortMapString,
    // report.go (TrimPrefix + legacy; `map` is space-joined scheme:host:container)
    case 'ports:report': {
      const name = positional[0];
      const app = verifyApp(name);
      const maps = app.ports.map((m) => `${m.scheme}:${m.host_port}:${m.container_port}`);
      return (report('ports', name, {
        '--ports-map': maps.join(' '), '--ports-map-json': JSON.stringify(app.ports),
        '--ports-map-detected': app.deployed ? 'http:80:5000' : '', '--ports-map-detected-json': app.deployed ? JSON.stringify([{ container_port: 5000, host_port: 80, scheme: 'http' }]) : '[]',
      }, { legacy: true }), finish(0));
    }
    case 'ports:add':
    case 'ports:set':
    case 'ports:remove':
    case 'ports:clear': {
      const [name, ...specs] = positional;
      const app = verifyApp(name);
      if (cmd === 'ports:clear') {
        app.ports = [];
        return finish(0);
      }
      if (!specs.length) fail('No port mapping specified');
      const parsed = [];
      for (const v of specs) {
        const parts = v.split(':');
        const num = (s) => (/^[+-]?\d+$/.test(s) ? Number(s) : NaN);
        if (parts.length !== 3) fail(`Error validating port mappings: Invalid port map ${v} [len=${parts.length}]`);
        const hp = num(parts[1]);
        const cp = num(parts[2]);
        if (Number.isNaN(hp)) fail(`Error validating port mappings: Invalid port map ${v} [err=strconv.Atoi: parsing "${parts[1]}": invalid syntax]`);
        if (Number.isNaN(cp)) fail(`Error validating port mappings: Invalid port map ${v} [err=strconv.Atoi: parsing "${parts[2]}": invalid syntax]`);
        if (hp < 0 || hp > 65535) fail(`Error validating port mappings: Invalid port map ${v} [hostPort=${hp}]`);
        if (cp < 0 || cp > 65535) fail(`Error validating port mappings: Invalid port map ${v} [containerPort=${cp}]`);
        parsed.push({ container_port: cp, host_port: hp, scheme: parts[0] });
      }
      const key = (m) => `${m.scheme}:${m.host_port}`;
      if (cmd === 'ports:remove') app.ports = app.ports.filter((m) => !parsed.some((p) => key(p) === key(m) && p.container_port === m.container_port));
      else {
        const next = cmd === 'ports:set' ? parsed : [...app.ports, ...parsed];
        const seen = new Set();
        for (const m of next) {
          if (seen.has(key(m))) fail(`Error validating port mappings: The same scheme:host-port is being reused: ${key(m)}`);
          seen.add(key(m));
        }
        app.ports = next;
      }
      return finish(0);
    }

    // plugins/logs src/commands (pflag: -n/--num, -p/--ps, -t/--tail, -q/--quiet)
    case 'logs': {
      const name = positional[0];
      const app = verifyApp(name);
      if (!app.deployed) fail(`App ${name} has not been deployed`);
      const tail = rest.includes('-t') || rest.includes('--tail');
      const n = Number(flagValue('--num') ?? flagValue('-n') ?? 100);
      const line = (i) => `${new Date().toISOString()} app[web.1]: GET /health ${i} 200`;
      for (let i = 0; i < Math.min(n, 3); i++) out(line(i));
      if (!tail) return finish(0);
      for (let i = 3; ; i++) {
        await sleep(Number(state.logIntervalMs ?? 200));
        out(line(i));
      }
    }
    default:
      fail(`\`${cmd}\` is not a dokku command.`);
      break;
  }
}

main().catch((e) => fail(String(e?.message ?? e)));
