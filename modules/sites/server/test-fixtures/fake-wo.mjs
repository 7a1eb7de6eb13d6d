#!/usr/bin/env node
// A stand-in for WordOps' `wo` command (WordOps cannot be installed on test machines).
//
// It reproduces what `wo site …` prints and its exit codes, read from WordOps' own source
// (github.com/WordOps/WordOps at commit 804e909053c0eebc9af0e33eb898eb379350757c). Each block
// below names the source lines its output comes from. Nothing is copied: the messages are the
// observable interface we have to parse.
//
// State lives in $FAKE_WO_DIR/state.json ({ webrootBase, certDir, sites: {…}, fail: {…} }); every
// call appends its argv as one JSON line to $FAKE_WO_DIR/calls.jsonl so tests can assert exactly
// what reached `wo` (and that hostile input never did).
import { X509Certificate, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.FAKE_WO_DIR;
if (!dir) {
  process.stderr.write('FAKE_WO_DIR is not set\n');
  process.exit(70);
}
const argv = process.argv.slice(2);
appendFileSync(path.join(dir, 'calls.jsonl'), `${JSON.stringify({ argv, at: Date.now() })}\n`);

const statePath = path.join(dir, 'state.json');
const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : {};
state.sites ??= {};
state.fail ??= {};
state.webrootBase ??= '/var/www/';
state.certDir ??= '/etc/letsencrypt/live';
state.defaultPhp ??= '8.3';
const save = () => writeFileSync(statePath, JSON.stringify(state, null, 2));

// wo/core/logging.py lines 9-16 (colours) and 18-88 (error/info/warn/wait/valide/failed).
const C = { OKBLUE: '\x1b[94m', OKGREEN: '\x1b[92m', WARNING: '\x1b[93m', FAIL: '\x1b[91m', ENDC: '\x1b[0m', BOLD: '\x1b[1m' };
const out = (s) => process.stdout.write(s);
const info = (msg, end = '\n') => out(C.OKBLUE + msg + C.ENDC + end);
const warn = (msg) => out(C.WARNING + msg + C.ENDC + '\n');
const pad31 = (msg) => msg.slice(0, 31) + ' '.repeat(31 - msg.slice(0, 31).length);
const wait = (msg) => out(C.OKBLUE + pad31(msg) + ' [' + C.ENDC + '..' + C.OKBLUE + ']' + C.ENDC + '\r');
const valide = (msg) => out(C.OKBLUE + pad31(msg) + ' [' + C.ENDC + C.OKGREEN + 'OK' + C.ENDC + C.OKBLUE + ']' + C.ENDC + '\n');
const failed = (msg) => out(C.OKBLUE + pad31(msg) + ' [' + C.ENDC + C.FAIL + 'KO' + C.ENDC + C.OKBLUE + ']' + C.ENDC + '\n');
// Log.error prints to stdout (print()) and closes the app with status 1 (logging.py 18-25).
function error(msg, exit = true) {
  out(C.FAIL + msg + C.ENDC + '\n');
  if (exit) {
    save();
    process.exit(1);
  }
}
const done = (label) => {
  info(label, '');
  info('[' + C.ENDC + 'Done' + C.OKBLUE + ']');
};

// services.py 128-139: every nginx reload prints these two validated steps.
function reloadNginx() {
  if (state.fail.nginxReload) {
    wait('Testing Nginx configuration ');
    failed('Testing Nginx configuration ');
    return false;
  }
  wait('Testing Nginx configuration ');
  valide('Testing Nginx configuration ');
  wait('Reloading Nginx');
  valide('Reloading Nginx');
  return true;
}

// cement/argparse: an unknown option ends the program with usage on stderr and status 2.
function argparseError(msg) {
  process.stderr.write(`usage: wo (sub-commands ...) [options]\nwo: error: ${msg}\n`);
  process.exit(2);
}

const PHP = { php74: '7.4', php80: '8.0', php81: '8.1', php82: '8.2', php83: '8.3', php84: '8.4', php85: '8.5' };
const TYPES = ['html', 'php', 'mysql', 'wp', 'wpsubdir', 'wpsubdomain'];
const CACHES = ['wpfc', 'wpsc', 'wpredis', 'wprocket', 'wpce'];

/** argparse-like parsing of the options each sub-command declares (site_create.py 28-107 …). */
function parseArgs(args, spec) {
  const o = { positional: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      o.positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-')) {
      o.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = (eq > 0 ? a.slice(0, eq) : a).replace(/^-le$/, '--letsencrypt').replace(/^-f$/, '--force');
    const key = name.replace(/^--/, '');
    const kind = spec[key];
    if (!kind) argparseError(`unrecognized arguments: ${a}`);
    if (kind === 'flag') {
      if (eq > 0) argparseError(`argument ${name}: ignored explicit argument '${a.slice(eq + 1)}'`);
      o[key] = true;
    } else {
      let v = eq > 0 ? a.slice(eq + 1) : undefined;
      if (v === undefined && args[i + 1] !== undefined && !args[i + 1].startsWith('-')) v = args[++i];
      if (v === undefined) v = kind.const;
      if (v === undefined) argparseError(`argument ${name}: expected one argument`);
      if (kind.choices && !kind.choices.includes(v)) {
        argparseError(`argument ${name}: invalid choice: '${v}' (choose from ${kind.choices.map((c) => `'${c}'`).join(', ')})`);
      }
      o[key] = v;
    }
  }
  if (o.positional.length > 1) argparseError(`unrecognized arguments: ${o.positional.slice(1).join(' ')}`);
  o.site_name = o.positional[0];
  return o;
}

/** domainvalidate.py 8-25: strips a scheme and a leading `www.`. */
function validateDomain(name) {
  const parts = name.trim().split('/');
  let d = parts.includes('http:') || parts.includes('https:') ? parts[2] : parts[0];
  const labels = d.split('.');
  if (labels[0] === 'www') d = labels.slice(1).join('.');
  return d;
}
const domainType = (d) => (d.split('.').length > 2 ? 'subdomain' : 'domain');

/** site_functions.py 1071-1375 (detSitePar), reduced to the combinations the panel sends. */
function detSitePar(o) {
  const typelist = TYPES.filter((t) => o[t]).concat(Object.keys(PHP).filter((p) => o[p]));
  const cachelist = CACHES.filter((c) => o[c]);
  if (cachelist.length > 1) throw new Error('Could not determine cache type.Multiple cache parameter entered');
  const kinds = typelist.filter((t) => !PHP[t]);
  if (kinds.length > 1) {
    if (kinds.every((t) => ['php', 'mysql', 'html'].includes(t))) return ['mysql', cachelist[0] ?? 'basic'];
    throw new Error('could not determine site and cache type');
  }
  if (!typelist.length && !cachelist.length) return [null, null];
  if (!kinds.length && cachelist.length) return ['wp', cachelist[0]];
  if (kinds.length) return [kinds[0], cachelist[0] ?? 'basic'];
  return [typelist[0], cachelist[0] ?? 'basic'];
}

/** sslutils.py 15-52: days left on /etc/letsencrypt/live/<domain>/cert.pem (or the parent's). */
function expirationDays(domain) {
  const candidates = [domain, domain.split('.').slice(1).join('.')];
  for (const d of candidates) {
    const file = path.join(state.certDir, d, 'cert.pem');
    if (existsSync(file)) {
      const cert = new X509Certificate(readFileSync(file));
      const days = Math.trunc((Date.parse(cert.validTo) - Date.now()) / 86400000);
      return days > 0 ? days : -1;
    }
  }
  const site = state.sites[domain];
  if (site?.ssl_days_left !== undefined) return site.ssl_days_left;
  error(`File Not Found: /etc/letsencrypt/live/${domain}/cert.pem`, false);
  error('Check the WordOps log for more details `tail /var/log/wo/wordops.log` and please try again...');
}

function mustExist(domain, msg = `site ${domain} does not exist`) {
  if (!state.sites[domain]) error(msg);
  return state.sites[domain];
}

const webrootOf = (d) => state.webrootBase.replace(/\/?$/, '/') + d;

function setupWebroot(d, webroot) {
  // site_functions.py 61-138 (setupdomain): nginx conf then webroot with logs/ symlinks.
  done('Setting up NGINX configuration \t');
  if (state.fail.nginxConf) {
    info('[' + C.ENDC + C.FAIL + 'Fail' + C.OKBLUE + ']');
    info(C.FAIL + 'There was a serious error encountered...');
    info(C.FAIL + 'Cleaning up afterwards...');
    error('Check the log for details: `tail /var/log/wo/wordops.log` and please try again');
  }
  if (webroot.startsWith(dir)) {
    mkdirSync(path.join(webroot, 'htdocs'), { recursive: true });
    mkdirSync(path.join(webroot, 'logs'), { recursive: true });
    mkdirSync(path.join(webroot, 'conf', 'nginx'), { recursive: true });
    writeFileSync(path.join(webroot, 'htdocs', 'index.html'), `<h1>${d}</h1>\n`);
    // nginx writes /var/log/nginx/<domain>.{access,error}.log (templates/virtualconf.mustache
    // 16-17); WordOps links them into <webroot>/logs (site_functions.py 121-128).
    for (const kind of ['access', 'error']) {
      const p = path.join(webroot, 'logs', `${kind}.log`);
      if (state.nginxLogDir) {
        mkdirSync(state.nginxLogDir, { recursive: true });
        const real = path.join(state.nginxLogDir, `${d}.${kind}.log`);
        if (!existsSync(real)) writeFileSync(real, '');
        if (!existsSync(p)) symlinkSync(real, p);
      } else if (!existsSync(p)) writeFileSync(p, '');
    }
  }
  done('Setting up webroot \t\t');
}

function cmdList(args) {
  // site.py 454-484: one Log.info line per site name, in database order.
  const o = parseArgs(args, { enabled: 'flag', disabled: 'flag' });
  for (const [name, s] of Object.entries(state.sites)) {
    if (o.enabled && !s.is_enabled) continue;
    if (o.disabled && s.is_enabled) continue;
    info(name);
  }
}

function cmdInfo(args) {
  // site.py 124-178 rendering templates/siteinfo.mustache lines 1-19.
  const o = parseArgs(args, {});
  if (!o.site_name) error('could not input site name');
  const d = validateDomain(o.site_name);
  const s = mustExist(d);
  const ssl = s.is_ssl ? 'enabled' : 'disabled';
  const sslprovider = s.is_ssl ? 'Lets Encrypt' : '';
  const sslexpiry = s.is_ssl ? String(expirationDays(d)) : '';
  const lines = [
    `Information about ${d} (${domainType(d)}):`,
    '',
    '',
    `Nginx configuration\t ${s.site_type} ${s.cache_type} (${s.is_enabled ? 'enabled' : 'disabled'}) `,
    s.php_version ? `PHP Version\t\t ${s.php_version}` : '',
    '',
    `SSL\t\t\t ${ssl}${sslprovider ? `\nSSL PROVIDER\t\t ${sslprovider}` : ''}${sslexpiry ? `\nSSL EXPIRY DATE\t\t ${sslexpiry}` : ''}`,
    '',
    `access_log\t\t ${s.site_path}/logs/access.log`,
    `error_log\t\t ${s.site_path}/logs/error.log`,
    s.site_path ? `Webroot\t\t\t ${s.site_path}` : '',
    '',
    s.db_name ? `DB_NAME\t\t\t ${s.db_name}` : '',
    s.db_name ? `DB_USER\t\t\t ${s.db_user}` : '',
    s.db_name ? `DB_PASS\t\t\t ${s.db_password}` : '',
    '',
  ];
  out(lines.join('\n') + '\n');
}

const LE_CREATE = { choices: ['on', 'subdomain', 'wildcard'], const: 'on' };
const COMMON = {
  html: 'flag', php: 'flag', mysql: 'flag', wp: 'flag', wpsubdir: 'flag', wpsubdomain: 'flag',
  wpfc: 'flag', wpsc: 'flag', wprocket: 'flag', wpce: 'flag', wpredis: 'flag',
  alias: {}, subsiteof: {}, force: 'flag', dns: { const: 'dns_cf' }, dnsalias: {}, proxy: {},
  ...Object.fromEntries(Object.keys(PHP).map((p) => [p, 'flag'])),
};

function issueCert(d, o, acmeDomains, isDns) {
  // acme.py 90-111 (setupletsencrypt) and 113-140 (deploycert).
  info(`Validation mode : ${isDns ? `DNS mode with ${o.dns ?? 'dns_cf'}` : 'Webroot challenge'}`);
  wait('Issuing SSL cert with acme.sh');
  if (state.fail.letsencrypt) {
    failed('Issuing SSL cert with acme.sh');
    if (isDns) error('Please make sure you properly set your DNS API credentials for acme.sh\nIf you are using sudo, use "sudo -E wo"');
    error('Your domain is properly configured but acme.sh was unable to issue certificate.\nYou can find more informations in /var/log/wo/wordops.log');
  }
  valide('Issuing SSL cert with acme.sh');
  wait('Deploying SSL cert');
  valide('Deploying SSL cert');
  void acmeDomains;
}

function cmdCreate(args) {
  // site_create.py 21-655.
  const o = parseArgs(args, {
    ...COMMON, letsencrypt: LE_CREATE, hsts: 'flag', ngxblocker: 'flag', user: {}, email: {}, pass: {}, vhostonly: 'flag',
  });
  let stype;
  let cache;
  try {
    [stype, cache] = detSitePar(o);
  } catch {
    error('Please provide valid options to creating site'); // site_create.py 117-120
  }
  let proxy;
  if (!stype && o.proxy) {
    [stype, cache] = ['proxy', ''];
    const [host, port = '80'] = o.proxy.split(':');
    proxy = { host, port };
  } else if (!stype) {
    [stype, cache] = ['html', 'basic'];
  } else if (o.proxy) {
    error('proxy should not be used with other site types');
  }
  // A bare --php8x creates a PHP site recorded with type "php8x" (site_create.py 227-235, 400-402).
  if (!o.site_name) error('Unable to input site name, Please try again!');
  const d = validateDomain(o.site_name);
  if (!d.trim()) error('Invalid domain name, Provide valid domain name');
  if (state.sites[d]) error(`site ${d} already exists`); // site_create.py 170-171
  const phpKey = Object.keys(PHP).find((p) => o[p]);
  const php = stype === 'proxy' ? null : phpKey ? PHP[phpKey] : state.defaultPhp;
  const webroot = webrootOf(d);
  setupWebroot(d, webroot);
  // Extra lines a test makes `wo` print (e.g. stack_pref.py 398-399 on a fresh stack:
  // "HTTP Auth User Name: WordOps" / "HTTP Auth Password : …").
  for (const line of state.echo ?? []) info(C.ENDC + line);
  const site = {
    site_type: stype, cache_type: cache, site_path: webroot, is_enabled: true, is_ssl: false,
    db_name: null, db_user: null, db_password: null, php_version: php, hsts: false, proxy,
  };
  state.sites[d] = site;
  if (stype === 'proxy') {
    reloadNginx();
    info(`Successfully created site http://${d}`); // site_create.py 334-352
  } else {
    if (['mysql', 'wp', 'wpsubdir', 'wpsubdomain'].includes(stype)) {
      const base = d.replace(/[.-]/g, '_').slice(0, 32);
      site.db_name = base;
      site.db_user = base.slice(0, 12) + randomBytes(3).toString('hex');
      site.db_password = randomBytes(12).toString('base64url');
      done('Setting up database\t\t'); // site_functions.py 189-233
    }
    const wp = ['wp', 'wpsubdir', 'wpsubdomain'].includes(stype);
    if (wp) {
      done('Downloading WordPress \t\t'); // site_functions.py 271-285
      if (stype !== 'wp') done('Setting up WordPress Network \t'); // 637-654
    }
    reloadNginx();
    if (wp) {
      // WordOps generates the password when --pass is not given (site_functions.py setupwordpress).
      site.wp_users = { [o.user ?? 'admin']: o.pass ?? randomBytes(12).toString('base64url') };
      info(C.ENDC + `WordPress admin user : ${o.user ?? 'admin'}`); // site_create.py 531-535
      info(C.ENDC + `WordPress admin password : ${site.wp_users[o.user ?? 'admin']}`);
      const page = stype === 'wp' ? 'options-general.php' : 'network/settings.php';
      // site_functions.py 1001-1044 (display_cache_settings)
      if (cache === 'wpredis') {
        info(`Configure redis-cache:\thttp://${d}/wp-admin/${page}?page=redis-cache`);
        info('Object Cache:\t\tEnable');
      }
      if (cache === 'wpfc') info(`Nginx-Helper configuration :\thttp://${d}/wp-admin/${page}?page=nginx`);
      if (cache === 'wpce') info(`Cache-Enabler configuration :\thttp://${d}/wp-admin/${page}?page=cache-enabler`);
      if (cache === 'wpsc') info(`Configure WPSC:\t\thttp://${d}/wp-admin/${page}?page=wpsupercache`);
    }
    info(`Successfully created site http://${d}`);
  }
  save();
  if (o.letsencrypt) {
    // site_create.py 545-655
    const wildcard = o.letsencrypt === 'wildcard';
    if (o.letsencrypt === 'subdomain') warn('Flag --letsencrypt=subdomain is deprecated and not required anymore.');
    const sub = o.letsencrypt === 'subdomain' || (!wildcard && domainType(d) === 'subdomain');
    info(`Certificate type : ${sub ? 'subdomain' : wildcard ? 'wildcard' : 'domain'}`);
    const acme = sub ? [d] : wildcard ? [d, `*.${d}`] : [d, `www.${d}`];
    issueCert(d, o, acme, wildcard || !!o.dns);
    if (o.hsts) {
      info(`Adding /var/www/${d}/conf/nginx/hsts.conf`);
      site.hsts = true;
    }
    reloadNginx();
    info(`Congratulations! Successfully Configured SSL on https://${d}`);
    site.is_ssl = true;
    site.ssl_days_left = 89;
    save();
  }
}

function cmdUpdate(args) {
  // site_update.py 26-1071.
  const o = parseArgs(args, {
    ...COMMON,
    password: 'flag', all: 'flag',
    letsencrypt: { choices: ['on', 'off', 'renew', 'subdomain', 'wildcard', 'clean', 'purge'], const: 'on' },
    hsts: { choices: ['on', 'off'], const: 'on' }, ngxblocker: { choices: ['on', 'off'], const: 'on' },
  });
  let stype;
  let cache;
  try {
    [stype, cache] = detSitePar(o);
  } catch {
    error('Please provide valid options combination for site update'); // 143-146
  }
  if (!o.site_name) error('Unable to input site name, Please try again!');
  const d = validateDomain(o.site_name);
  const s = mustExist(d, ` Site ${d} does not exist.`); // 187-190
  if (o.password) {
    // site_update.py (pargs.password) → updatewpuserpassword (site_functions.py): input() for the
    // user name ("admin" when empty), then getpass, which without a terminal reads the next line of
    // stdin (Python's fallback_getpass); then `wp user update <user> --user_pass=<pass>`.
    if (!['wp', 'wpsubdir', 'wpsubdomain'].includes(s.site_type)) error(`${d} does not seem to be a WordPress site`);
    const [userLine = '', passLine = ''] = readFileSync(0, 'utf8').split('\n');
    process.stdout.write('Provide WordPress user name [admin]: ');
    const user = userLine.trim() || 'admin';
    s.wp_users ??= { admin: 'unknown' };
    if (!(user in s.wp_users)) error(`Invalid WordPress user ${user} for ${d}.`);
    process.stderr.write('Warning: Password input may be echoed.\n');
    process.stdout.write(`Provide password for ${user} user: `);
    if (!passLine) error('Unable to update password'); // getpass on an empty line loops; EOF raises
    s.wp_users[user] = passLine;
    save();
    info('Password updated successfully');
    return;
  }
  const phpKey = Object.keys(PHP).find((p) => o[p]);
  const typeFlag = TYPES.some((t) => o[t]) || CACHES.some((c) => o[c]);

  if ((o.hsts || o.letsencrypt === 'renew') && !typeFlag && !phpKey) {
    if (o.hsts) {
      // sslutils.py 137-167 then an nginx reload (site_update.py 76-88)
      if (o.hsts === 'on') {
        if (!s.hsts) info(`Adding /var/www/${d}/conf/nginx/hsts.conf`);
        s.hsts = true;
      } else {
        info(s.hsts ? 'HSTS disabled' : 'HSTS is not enabled');
        s.hsts = false;
      }
      save();
      reloadNginx();
      return;
    }
    // site_update.py 114-129: renew only within 30 days unless --force
    if (!s.is_ssl) error("Certificate doesn't exist");
    const days = expirationDays(d);
    if (!o.force && days > 30) error(`Your cert will expire in more than 30 days ( ${days} days).\nAdd '--force' to force to renew`);
    wait('Renewing SSL certificate');
    if (state.fail.renew) error('Unable to renew certificate'); // acme.py 170-179
    valide('Renewing SSL certificate');
    s.ssl_days_left = 89;
    save();
    return;
  }

  if (o.letsencrypt && !typeFlag && !phpKey) {
    // site_update.py 480-505 then 600-741
    const wantOn = ['on', 'subdomain', 'wildcard'].includes(o.letsencrypt);
    if (wantOn && s.is_ssl) error('SSL is already configured for given site');
    if (o.letsencrypt === 'off' && !s.is_ssl) error('SSL is not configured for given site');
    if (wantOn) {
      const wildcard = o.letsencrypt === 'wildcard';
      info(`Certificate type : ${wildcard ? 'wildcard' : domainType(d) === 'subdomain' ? 'subdomain' : 'domain'}`);
      issueCert(d, o, [], wildcard || !!o.dns);
      reloadNginx();
      info(`Congratulations! Successfully Configured SSL on https://${d}`);
      s.is_ssl = true;
      s.ssl_days_left = 89;
      info(`Your cert will expire within ${expirationDays(d)} days.`);
    } else {
      if (s.hsts) s.hsts = false;
      reloadNginx();
      info(`Successfully Disabled SSl for Site  http://${d}`);
      s.is_ssl = false;
    }
    save();
    return;
  }

  if (!stype && !phpKey) stype = 'html';
  if (PHP[stype]) [stype, cache] = [s.site_type, s.cache_type];
  const samePhp = !phpKey || PHP[phpKey] === s.php_version;
  if (stype === s.site_type && cache === s.cache_type && !phpKey) {
    // site_update.py 270-288: reported in red but the command still exits 0.
    info(C.FAIL + `can not update ${s.site_type} ${s.cache_type} to ${stype} ${cache}`);
    return;
  }
  if (stype === s.site_type && cache === s.cache_type && samePhp) return; // "Nothing to update" (debug only), 0
  if (state.fail.update) {
    info(C.FAIL + 'Update site failed.Check the log for details:`tail /var/log/wo/wordops.log` and please try again');
    return;
  }
  done('Setting up NGINX configuration \t');
  s.site_type = stype;
  s.cache_type = cache;
  if (phpKey) s.php_version = PHP[phpKey];
  reloadNginx();
  const page = stype === 'wp' ? 'options-general.php' : 'network/settings.php';
  if (cache === 'wpredis') {
    info(`Configure redis-cache:\thttp://${d}/wp-admin/${page}?page=redis-cache`);
    info('Object Cache:\t\tEnable');
  }
  info(`Successfully updated site http://${d}`);
  save();
}

function cmdEnableDisable(args, enable) {
  // site.py 45-122
  const o = parseArgs(args, {});
  if (!o.site_name) error('could not input site name');
  const d = validateDomain(o.site_name);
  const s = mustExist(d);
  info(`${enable ? 'Enable' : 'Disable'} domain ${d.padEnd(10)} \t`, '');
  if (!enable && !s.is_enabled) {
    info('[' + C.FAIL + 'Failed' + C.OKBLUE + ']');
    return;
  }
  s.is_enabled = enable;
  save();
  info('[' + C.ENDC + 'OK' + C.OKBLUE + ']');
  reloadNginx();
}

function cmdDelete(args) {
  // site.py 303-451
  const o = parseArgs(args, { 'no-prompt': 'flag', force: 'flag', all: 'flag', db: 'flag', files: 'flag' });
  if (!o.site_name) error('could not input site name');
  const d = validateDomain(o.site_name);
  const s = mustExist(d);
  if (!o.db && !o.files && !o.all) o.all = true;
  if (!o['no-prompt'] && !o.force) error('could not input site name'); // a prompt without a TTY fails
  let dbDeleted = false;
  let webDeleted = s.site_path === 'deleted';
  let prompted = false;
  if (['mysql', 'wp', 'wpsubdir', 'wpsubdomain'].includes(s.site_type)) {
    if (s.db_name === 'deleted') dbDeleted = true;
    if (o.all) o.db = o.files = true;
  } else if (o.all) {
    dbDeleted = true;
    o.files = true;
  }
  if (o.db) {
    if (s.db_name && s.db_name !== 'deleted') {
      prompted = true;
      info(`Deleting Database, ${s.db_name}, user ${s.db_user}`);
      s.db_name = s.db_user = s.db_password = 'deleted';
      dbDeleted = true;
      info('Deleted Database successfully.');
    } else {
      dbDeleted = true;
      info('Does not seems to have database for this site.');
    }
  }
  if (o.files) {
    if (s.site_path !== 'deleted') {
      prompted = true;
      info(`Deleting Webroot, ${s.site_path}`);
      if (s.site_path.startsWith(dir + '/')) rmSync(s.site_path, { recursive: true, force: true });
      s.site_path = 'deleted';
      webDeleted = true;
      info('Deleted webroot successfully');
    } else {
      webDeleted = true;
      info('Webroot seems to be already deleted');
    }
  }
  if ((o.force && (prompted || (webDeleted && dbDeleted))) || (!o.force && webDeleted && dbDeleted)) {
    delete state.sites[d];
    info(`Deleted site ${d}`);
  }
  save();
}

const [group, sub, ...rest] = argv;
// Tests that need a change to stay "running" for a while set delayMs.
if (state.delayMs && ['create', 'update', 'delete', 'enable', 'disable'].includes(sub)) {
  info('Working…');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, state.delayMs);
}
if (group !== 'site') argparseError(`argument: invalid choice: '${group}'`);
switch (sub) {
  case 'list': cmdList(rest); break;
  case 'info': cmdInfo(rest); break;
  case 'create': cmdCreate(rest); break;
  case 'update': cmdUpdate(rest); break;
  case 'enable': cmdEnableDisable(rest, true); break;
  case 'disable': cmdEnableDisable(rest, false); break;
  case 'delete': cmdDelete(rest); break;
  default: argparseError(`argument: invalid choice: '${sub}'`);
}
save();
