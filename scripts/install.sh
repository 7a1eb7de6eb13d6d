#!/usr/bin/env bash
# Slipway installer: install, upgrade, rollback and uninstall the panel as a systemd service on
# Debian 12 or Ubuntu 22.04/24.04. Idempotent: running it again converges and changes nothing when
# everything is in place. `install.sh --help` for the commands and options.
set -euo pipefail
shopt -s nullglob

PREFIX=/opt/slipway                  # releases/<version>-<hash>, current and previous symlinks
DATA_DIR=/var/lib/slipway            # database, secrets, SSH keys, backups/ (0700, slipway)
CONF_DIR=/etc/slipway
ENV_FILE=$CONF_DIR/slipway.env       # SLIPWAY_* settings (0600, root)
UNIT=/etc/systemd/system/slipway.service
DROPIN=/etc/systemd/system/slipway.service.d/modules.conf
WRAPPER=/usr/local/bin/slipway       # operator command: runs the CLI as slipway with the settings
SOCKET=/run/slipway/slipway.sock
NGINX_SITE=/etc/nginx/sites-available/slipway.conf
NGINX_LINK=/etc/nginx/sites-enabled/slipway.conf
CADDY_SITE=/etc/caddy/Caddyfile.d/slipway.caddy
NODE_MIN=20.19
NODE_PREFERRED=24
USER_NAME=slipway

usage() {
  cat <<'EOF'
Usage: install.sh [COMMAND] [OPTIONS]

Commands:
  install      install Slipway and start it (default); again on an installed host: converge, change nothing
  upgrade      install this tree as a new version next to the running one: backup, switch, migrate,
               start; a failed migration or start rolls back by itself
  rollback     go back to the previous version and restore the backup taken before the upgrade
               (changes made since the upgrade are lost; asks first unless --yes)
  uninstall    remove the service, unit and code; keep the data (/var/lib/slipway) and settings
               (/etc/slipway). With --purge also remove those and the slipway user (asks first
               unless --yes)
  help         this text

Options:
  --modules LIST      modules to enable, comma separated (default: all); their Debian packages
                      (modules/<id>/packages.txt) are installed
  --proxy nginx|caddy put the panel behind nginx or Caddy on a unix socket (needs --domain)
  --domain NAME       the panel's public name, e.g. panel.example.com (sets SLIPWAY_PUBLIC_URL)
  --tls-cert FILE     nginx: certificate (default: /etc/letsencrypt/live/NAME/, else a self-signed
  --tls-key FILE        one in /etc/slipway/tls to replace); Caddy gets its own certificate
  --node PATH         the Node binary to run the panel with (default: node on PATH)
  --source DIR        the tree to install (default: the checkout holding this script)
  --prebuilt          the tree is already built: dist/ and production node_modules/ are there
                      (no npm, no network); otherwise it is built with npm ci and npm run build
  --skip-packages     do not install Debian packages; the missing ones are listed
  --purge             uninstall: remove data, settings and the slipway user too
  --yes               do not ask (purge, rollback)
  --dry-run           print what would be done and change nothing
  -h, --help          this text
EOF
}

# --- output and failure ---------------------------------------------------------------------
STEP=start
step() { STEP=$*; printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

CHANGED=0
changed() { CHANGED=$((CHANGED + 1)); info "changed: $*"; }
DRY=0
# act DESCRIPTION CMD...: runs CMD and notes the change, or in a dry run only says it would.
act() {
  local what=$1; shift
  if ((DRY)); then info "would: $what"; CHANGED=$((CHANGED + 1)); return 0; fi
  "$@"
  changed "$what"
}

# A fresh install that fails must not leave the service running.
STARTED_FRESH=0
on_exit() {
  local rc=$?
  if ((rc != 0)); then
    printf 'install.sh: failed during: %s\n' "$STEP" >&2
    if ((STARTED_FRESH)); then
      systemctl disable --now slipway.service >/dev/null 2>&1 || true
      printf 'install.sh: the service was stopped and disabled; fix the problem and run install.sh again\n' >&2
    fi
  fi
}
trap on_exit EXIT

# --- arguments ------------------------------------------------------------------------------
CMD=install
MODULES=''
MODULES_GIVEN=0
PROXY=''
DOMAIN=''
TLS_CERT=''
TLS_KEY=''
NODE=''
SRC=''
PREBUILT=0
SKIP_PACKAGES=0
PURGE=0
YES=0
cmd_seen=0
while (($#)); do
  case $1 in
    install | upgrade | rollback | uninstall | help)
      ((cmd_seen == 0)) || die "only one command (got $CMD and $1)"
      CMD=$1; cmd_seen=1 ;;
    -h | --help) CMD=help ;;
    --modules) MODULES=${2:?--modules needs a list}; MODULES_GIVEN=1; shift ;;
    --proxy) PROXY=${2:?--proxy needs nginx or caddy}; shift ;;
    --domain) DOMAIN=${2:?--domain needs a name}; shift ;;
    --tls-cert) TLS_CERT=${2:?--tls-cert needs a file}; shift ;;
    --tls-key) TLS_KEY=${2:?--tls-key needs a file}; shift ;;
    --node) NODE=${2:?--node needs a path}; shift ;;
    --source) SRC=${2:?--source needs a directory}; shift ;;
    --prebuilt) PREBUILT=1 ;;
    --skip-packages) SKIP_PACKAGES=1 ;;
    --purge) PURGE=1 ;;
    --yes | -y) YES=1 ;;
    --dry-run) DRY=1 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
if [ "$CMD" = help ]; then usage; trap - EXIT; exit 0; fi

[ -n "$SRC" ] || SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case $PROXY in '' | nginx | caddy) ;; *) die "--proxy must be nginx or caddy (got $PROXY)" ;; esac
if [ -n "$PROXY" ] && [ -z "$DOMAIN" ]; then die "--proxy $PROXY needs --domain NAME (the name the panel is reached by)"; fi
if [ -n "$DOMAIN" ] && ! [[ $DOMAIN =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,62}\.)*[A-Za-z0-9-]{1,63}$ ]]; then die "--domain: not a host name: $DOMAIN"; fi
[ "$PURGE" -eq 0 ] || [ "$CMD" = uninstall ] || die "--purge is an uninstall option"
if { [ -n "$TLS_CERT" ] || [ -n "$TLS_KEY" ]; } && [ "$PROXY" != nginx ]; then die "--tls-cert/--tls-key are for --proxy nginx"; fi
if [ -n "$TLS_CERT" ] && [ -z "$TLS_KEY" ]; then die "--tls-cert needs --tls-key"; fi
if [ -n "$TLS_KEY" ] && [ -z "$TLS_CERT" ]; then die "--tls-key needs --tls-cert"; fi

# --- checks ---------------------------------------------------------------------------------
check_host() {
  step "checking the host"
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo bash scripts/install.sh ...)"
  [ -r /etc/os-release ] || die "cannot tell the OS: /etc/os-release is missing"
  local id ver
  # shellcheck source=/dev/null
  id=$(. /etc/os-release && printf '%s' "${ID:-}")
  # shellcheck source=/dev/null
  ver=$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")
  case "$id $ver" in
    'debian 12' | 'ubuntu 22.04' | 'ubuntu 24.04') info "OS: $id $ver" ;;
    *) die "unsupported OS: $id $ver (supported: Debian 12, Ubuntu 22.04, Ubuntu 24.04)" ;;
  esac
  [ -d /run/systemd/system ] || die "systemd is not running as PID 1 here; the panel is installed as a systemd service"
}

# version_ge A B: A >= B for dotted versions
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

node_help() {
  cat >&2 <<EOF
Slipway needs Node.js >= $NODE_MIN; Node $NODE_PREFERRED LTS is preferred. $1
Get Node $NODE_PREFERRED, then run install.sh again:
  - NodeSource's Debian/Ubuntu packages for Node $NODE_PREFERRED (they install /usr/bin/node), or
  - the official Linux x64 binary archive of Node $NODE_PREFERRED unpacked into /usr/local
    (then: install.sh --node /usr/local/bin/node ...).
EOF
}

NODE_VERSION=''
check_node() {
  step "checking Node.js"
  if [ -z "$NODE" ]; then NODE=$(command -v node || true); fi
  if [ -z "$NODE" ] || ! "$NODE" -v >/dev/null 2>&1; then
    local cand
    cand=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ { print $2 }' | sed -E 's/^[0-9]+://; s/[-+~].*$//')
    if [ -n "$cand" ] && [ "$cand" != '(none)' ] && version_ge "$cand" "$NODE_MIN" && ((SKIP_PACKAGES == 0)); then
      act "install Node.js $cand from the distribution (apt-get install nodejs)" apt_install nodejs
      ((DRY)) && { NODE=/usr/bin/node; NODE_VERSION=$cand; return 0; }
      NODE=$(command -v node) || die "nodejs was installed but node is not on PATH"
    else
      node_help "No Node.js was found, and the distribution offers ${cand:-none}."
      die "Node.js >= $NODE_MIN is missing"
    fi
  fi
  NODE=$(readlink -f "$NODE")
  NODE_VERSION=$("$NODE" -p 'process.versions.node')
  if ! version_ge "$NODE_VERSION" "$NODE_MIN"; then
    node_help "$NODE is Node $NODE_VERSION."
    die "Node $NODE_VERSION is too old (need >= $NODE_MIN)"
  fi
  case $NODE in /home/* | /root/*) die "$NODE is under a home directory, which the hardened unit cannot see (ProtectHome): install Node under /usr or /opt" ;; esac
  info "Node $NODE_VERSION: $NODE"
  if [ "${NODE_VERSION%%.*}" -lt "$NODE_PREFERRED" ]; then
    info "note: Node $NODE_PREFERRED LTS is preferred (Node 20 reached its end of life in April 2026)"
  fi
}

ALL_MODULES=()
SELECTED=()
resolve_modules() {
  local d
  for d in "$SRC"/modules/*/; do ALL_MODULES+=("$(basename "$d")"); done
  ((${#ALL_MODULES[@]})) || die "$SRC has no modules/: is --source a Slipway tree?"
  local list=$MODULES
  if ((MODULES_GIVEN == 0)) && [ -f "$ENV_FILE" ]; then list=$(env_get SLIPWAY_MODULES); fi
  if [ -z "$list" ]; then SELECTED=("${ALL_MODULES[@]}"); return 0; fi
  local m
  IFS=', ' read -r -a SELECTED <<<"$list"
  for m in "${SELECTED[@]}"; do
    [[ " ${ALL_MODULES[*]} " == *" $m "* ]] || die "--modules: unknown module $m (valid: ${ALL_MODULES[*]})"
  done
}

check_source() {
  step "checking the tree to install: $SRC"
  if [ ! -f "$SRC/package.json" ] || [ ! -d "$SRC/modules" ]; then die "$SRC is not a Slipway tree (package.json, modules/)"; fi
  if ((PREBUILT)); then
    [ -f "$SRC/dist/server/src/main.js" ] || die "--prebuilt: $SRC/dist/server/src/main.js is missing (run npm run build there)"
    [ -d "$SRC/node_modules" ] || die "--prebuilt: $SRC/node_modules is missing (npm ci --omit=dev there)"
    [ -f "$SRC/dist/web/index.html" ] || warn "--prebuilt: $SRC/dist/web is missing: the panel will run without its web console"
  else
    command -v npm >/dev/null 2>&1 || die "building needs npm (apt-get install npm), or install a built tree with --prebuilt"
  fi
}

# --- Debian packages ------------------------------------------------------------------------
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" || die "apt-get install $* failed"
}

install_packages() {
  step "Debian packages for: ${SELECTED[*]}${PROXY:+ and $PROXY}"
  local pkgs=() missing=() p
  mapfile -t pkgs < <(bash "$SRC/scripts/module-packages.sh" "${SELECTED[@]}")
  [ -z "$PROXY" ] || pkgs+=("$PROXY")
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then info "all installed"; return 0; fi
  if ((SKIP_PACKAGES)); then
    warn "not installing (--skip-packages): ${missing[*]}; modules whose engines are missing report it in /api/v1/modules"
    if [ -n "$PROXY" ] && [[ " ${missing[*]} " == *" $PROXY "* ]]; then die "--proxy $PROXY: $PROXY is not installed"; fi
    return 0
  fi
  act "apt-get install ${missing[*]}" apt_install "${missing[@]}"
}

# --- user, directories, settings ------------------------------------------------------------
setup_user() {
  step "system user $USER_NAME"
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    act "create system user $USER_NAME" useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
  fi
  local groups=() g
  mapfile -t groups < <(bash "$SRC/scripts/module-packages.sh" --groups "${SELECTED[@]}")
  for g in "${groups[@]}"; do
    getent group "$g" >/dev/null || { info "group $g does not exist here (its engine is not installed): skipped"; continue; }
    id -nG "$USER_NAME" 2>/dev/null | tr ' ' '\n' | grep -qx "$g" || act "add $USER_NAME to group $g" usermod -aG "$g" "$USER_NAME"
  done
  # The proxy joins group slipway to reach the socket in /run/slipway (0750) and the socket (0660).
  local proxy_user=''
  case $PROXY in nginx) proxy_user=www-data ;; caddy) proxy_user=caddy ;; esac
  if [ -n "$proxy_user" ]; then
    id "$proxy_user" >/dev/null 2>&1 || die "$PROXY's user $proxy_user does not exist: is $PROXY installed?"
    id -nG "$proxy_user" | tr ' ' '\n' | grep -qx "$USER_NAME" || act "add $proxy_user to group $USER_NAME (socket access)" usermod -aG "$USER_NAME" "$proxy_user"
  fi
}

# ensure_dir MODE OWNER:GROUP PATH
ensure_dir() {
  local mode=$1 owner=$2 dir=$3
  if [ ! -d "$dir" ]; then act "create $dir ($mode $owner)" install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"; return 0; fi
  [ "$(stat -c '%a %U:%G' "$dir")" = "${mode#0} $owner" ] || act "set $dir to $mode $owner" set_mode_owner "$mode" "$owner" "$dir"
}
set_mode_owner() { chmod "$1" "$3" && chown "$2" "$3"; }

# put_file MODE OWNER:GROUP DEST < content: writes DEST only when content, mode or owner differ.
put_file() {
  local mode=$1 owner=$2 dest=$3 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" && [ "$(stat -c '%a %U:%G' "$dest")" = "${mode#0} $owner" ]; then rm -f "$tmp"; return 1; fi
  if ((DRY)); then info "would: write $dest"; CHANGED=$((CHANGED + 1)); rm -f "$tmp"; return 0; fi
  install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$dest"
  rm -f "$tmp"
  changed "wrote $dest"
}

env_get() { # env_get KEY: the value in the settings file, or empty
  [ -f "$ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n1
}

# The settings file: made once with a fresh metrics token; later runs change only the keys the
# options given name (--modules, --proxy/--domain) and keep everything else, operator edits too.
write_env() {
  step "settings: $ENV_FILE"
  local listen=127.0.0.1:8420 content key value
  [ -z "$PROXY" ] || listen=unix:$SOCKET
  if [ -f "$ENV_FILE" ]; then content=$(cat "$ENV_FILE"); else
    content="# Slipway settings (docs/OPERATIONS.md lists them). Read by systemd for slipway.service.
# Change one, then: systemctl restart slipway
SLIPWAY_DATA_DIR=$DATA_DIR
SLIPWAY_LISTEN=$listen
SLIPWAY_METRICS_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  fi
  set_key() { # set_key KEY VALUE: replace or append
    if grep -q "^$1=" <<<"$content"; then content=$(awk -v k="$1" -v v="$2" 'index($0, k "=") == 1 { $0 = k "=" v } { print }' <<<"$content"); else content+=$'\n'"$1=$2"; fi
  }
  if ((MODULES_GIVEN)) || ! grep -q '^SLIPWAY_MODULES=' <<<"$content"; then
    set_key SLIPWAY_MODULES "$(IFS=,; printf '%s' "${SELECTED[*]}")"
  fi
  if [ -n "$PROXY" ]; then
    set_key SLIPWAY_LISTEN "unix:$SOCKET"
    # The socket peer is the proxy: the client address is taken from its X-Forwarded-For.
    set_key SLIPWAY_TRUST_PROXY unix
  fi
  [ -z "$DOMAIN" ] || set_key SLIPWAY_PUBLIC_URL "https://$DOMAIN"
  # netboot: machines fetch their boot scripts over HTTP; on a unix socket the panel has no port
  # of its own to derive the URL from, so they go through the proxy.
  if [ -n "$PROXY" ] && [[ " ${SELECTED[*]} " == *" netboot "* ]] && ! grep -q '^SLIPWAY_NETBOOT_BOOT_BASE_URL=' <<<"$content"; then
    set_key SLIPWAY_NETBOOT_BOOT_BASE_URL "https://$DOMAIN"
  fi
  for key in SLIPWAY_DATA_DIR SLIPWAY_LISTEN; do
    value=$(sed -n "s/^$key=//p" <<<"$content" | tail -n1)
    [ -n "$value" ] || die "$ENV_FILE: $key is empty"
  done
  put_file 0600 root:root "$ENV_FILE" <<<"$content" || info "unchanged"
}

# --- releases -------------------------------------------------------------------------------
# A release is a directory under $PREFIX/releases named <version>-<hash of its built files>;
# $PREFIX/current points at the running one and $PREFIX/previous at the one to roll back to.
tree_hash() {
  (cd "$1" && find dist bin deploy package.json package-lock.json -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
}
release_id() {
  local version
  version=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$1/package.json" | head -n1)
  printf '%s-%s' "${version:-0}" "$(tree_hash "$1")"
}

COPY_ITEMS=(package.json package-lock.json dist node_modules bin deploy docs scripts/module-packages.sh scripts/install.sh)
copy_tree() { # copy_tree SRC DEST: the files a release runs from
  local item
  install -d -m 0755 "$2" "$2/scripts" "$2/modules"
  for item in "${COPY_ITEMS[@]}"; do
    [ -e "$1/$item" ] || continue
    cp -a "$1/$item" "$2/$item"
  done
  for item in "$1"/modules/*/packages.txt; do
    install -D -m 0644 "$item" "$2/modules/$(basename "$(dirname "$item")")/packages.txt"
  done
  chown -R root:root "$2"
  chmod -R go-w "$2"
}

NEW_RELEASE=''
NEW_ADDED=0
stage_release() {
  step "release"
  local stage
  ensure_dir 0755 root:root "$PREFIX"
  ensure_dir 0755 root:root "$PREFIX/releases"
  if ((PREBUILT)); then
    NEW_RELEASE=$(release_id "$SRC")
    if [ -d "$PREFIX/releases/$NEW_RELEASE" ]; then info "$NEW_RELEASE is already in $PREFIX/releases"; return 0; fi
    ((DRY)) && { info "would: copy the built tree $SRC to $PREFIX/releases/$NEW_RELEASE"; CHANGED=$((CHANGED + 1)); return 0; }
    stage=$(mktemp -d "$PREFIX/releases/.new.XXXXXX")
    copy_tree "$SRC" "$stage"
  else
    ((DRY)) && { NEW_RELEASE="$(release_id "$SRC") (after the build)"; info "would: build $SRC (npm ci, npm run build, npm prune --omit=dev) into $PREFIX/releases"; CHANGED=$((CHANGED + 1)); return 0; }
    stage=$(mktemp -d "$PREFIX/releases/.build.XXXXXX")
    local item
    for item in package.json package-lock.json tsconfig.base.json tsconfig.json tsconfig.server.json server modules web bin deploy docs scripts; do
      [ -e "$SRC/$item" ] && cp -a "$SRC/$item" "$stage/$item"
    done
    info "building in $stage (npm ci, npm run build; a few minutes)"
    # Native addons (better-sqlite3, argon2) build against this Node's headers, never downloaded ones.
    local nodedir
    nodedir=$(dirname "$(dirname "$NODE")")
    local nodebin
    nodebin=$(dirname "$NODE")
    (cd "$stage" && export PATH="$nodebin:$PATH" npm_config_nodedir="$nodedir" &&
      npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund) >"$stage.log" 2>&1 ||
      { tail -n 40 "$stage.log" >&2; rm -rf "$stage"; die "the build failed (log above; full log: $stage.log)"; }
    rm -f "$stage.log"
    local built
    built=$(mktemp -d "$PREFIX/releases/.new.XXXXXX")
    copy_tree "$stage" "$built"
    rm -rf "$stage"
    stage=$built
  fi
  NEW_RELEASE=$(release_id "$stage")
  if [ -d "$PREFIX/releases/$NEW_RELEASE" ]; then rm -rf "$stage"; info "$NEW_RELEASE is already in $PREFIX/releases"; return 0; fi
  mv "$stage" "$PREFIX/releases/$NEW_RELEASE"
  chmod 0755 "$PREFIX/releases/$NEW_RELEASE"
  NEW_ADDED=1
  changed "added release $NEW_RELEASE"
}

current_release() { if [ -L "$PREFIX/current" ]; then basename "$(readlink "$PREFIX/current")"; fi; }
previous_release() { if [ -L "$PREFIX/previous" ]; then basename "$(readlink "$PREFIX/previous")"; fi; }
# switch_link NAME RELEASE: atomically points $PREFIX/NAME at releases/RELEASE
switch_link() {
  ln -sfn "releases/$2" "$PREFIX/.$1.tmp"
  mv -T "$PREFIX/.$1.tmp" "$PREFIX/$1"
  changed "$1 -> $2"
}

# Keeps current and previous, removes older releases.
prune_releases() {
  local cur prev r
  cur=$(current_release); prev=$(previous_release)
  for r in "$PREFIX"/releases/*/; do
    r=$(basename "$r")
    [ "$r" = "$cur" ] || [ "$r" = "$prev" ] || { rm -rf "${PREFIX:?}/releases/$r"; info "removed old release $r"; }
  done
}

# --- service --------------------------------------------------------------------------------
write_wrapper() {
  put_file 0755 root:root "$WRAPPER" <<EOF || true
#!/bin/sh
# slipway: the panel's operator command (backup, restore, audit verify, doctor, user ...), written
# by scripts/install.sh. Runs the installed version as user $USER_NAME with $ENV_FILE.
set -e
[ "\$(id -u)" -eq 0 ] || { echo "slipway: run as root (it reads $ENV_FILE, then runs as $USER_NAME)" >&2; exit 1; }
set -a
. $ENV_FILE
set +a
cd $PREFIX/current
exec setpriv --reuid=$USER_NAME --regid=$USER_NAME --init-groups -- $NODE $PREFIX/current/bin/slipway.mjs "\$@"
EOF
}

UNIT_CHANGED=0
write_unit() {
  step "systemd unit"
  local before=$CHANGED
  put_file 0644 root:root "$UNIT" < <(sed "s|@NODE@|$NODE|g" "$SRC/deploy/slipway.service") || true
  # Paths the enabled modules write to (`@rw PATH` in their packages.txt); `-`: may be missing.
  local rw=() p
  while IFS= read -r p; do rw+=("-$p"); done < <(bash "$SRC/scripts/module-packages.sh" --paths "${SELECTED[@]}")
  put_file 0644 root:root "$DROPIN" < <(
    echo "# Written by scripts/install.sh for the modules: ${SELECTED[*]}"
    echo '[Service]'
    if ((${#rw[@]})); then
      echo '# Module paths the panel writes to (ProtectSystem=strict makes everything else read-only).'
      echo "ReadWritePaths=${rw[*]}"
    fi
  ) || true
  write_wrapper
  if ((CHANGED != before)); then
    UNIT_CHANGED=1
    ((DRY)) || systemctl daemon-reload
  else
    info "unchanged"
  fi
}

# as_slipway CMD...: the slipway CLI of the current release as the slipway user.
as_slipway() { "$WRAPPER" "$@"; }

run_migrations() {
  step "database migrations"
  ((DRY)) && { info "would: slipway migrate"; return 0; }
  as_slipway migrate
}

wait_ready() {
  # shellcheck disable=SC2046  # KEY=VALUE words from the settings file
  env -i PATH=/usr/bin:/bin $(grep -E '^SLIPWAY_LISTEN=' "$ENV_FILE") "$NODE" "$PREFIX/current/deploy/wait-ready.mjs" --timeout "${1:-60}"
}

start_service() {
  step "service"
  local state
  state=$(systemctl is-active slipway.service 2>/dev/null || true)
  if ((DRY)); then
    if [ "$state" != active ]; then info "would: enable and start slipway.service"; CHANGED=$((CHANGED + 1))
    elif ((UNIT_CHANGED || ENV_CHANGED || RELEASE_SWITCHED)); then info "would: restart slipway.service"; CHANGED=$((CHANGED + 1))
    else info "running, unchanged"; fi
    return 0
  fi
  systemctl is-enabled --quiet slipway.service 2>/dev/null || act "enable slipway.service" systemctl enable --quiet slipway.service
  if [ "$state" != active ]; then
    [ "$CMD" != install ] || STARTED_FRESH=1
    systemctl start slipway.service || { show_journal; die "slipway.service did not start (journal above)"; }
    changed "started slipway.service"
  elif ((UNIT_CHANGED || ENV_CHANGED || RELEASE_SWITCHED)); then
    systemctl restart slipway.service || { show_journal; die "slipway.service did not restart (journal above)"; }
    changed "restarted slipway.service"
  else
    info "running, unchanged"
  fi
  wait_ready 60 || { show_journal; die "the panel does not answer /api/v1/ready (journal above)"; }
  STARTED_FRESH=0
  info "active; /api/v1/ready answers"
}

stop_service() {
  if systemctl is-active --quiet slipway.service 2>/dev/null; then
    if ((DRY)); then info "would: stop slipway.service"; else systemctl stop slipway.service; changed "stopped slipway.service"; fi
  fi
}

# The journal of the unit's last start only.
show_journal() {
  local inv
  inv=$(systemctl show -p InvocationID --value slipway.service 2>/dev/null || true)
  if [ -n "$inv" ]; then journalctl "_SYSTEMD_INVOCATION_ID=$inv" -n 40 --no-pager -o cat >&2 || true
  else journalctl -u slipway.service -n 40 --no-pager >&2 || true; fi
}

# --- reverse proxy --------------------------------------------------------------------------
setup_proxy() {
  [ -n "$PROXY" ] || return 0
  step "$PROXY site for $DOMAIN"
  local before=$CHANGED
  if [ "$PROXY" = nginx ]; then
    local cert=$TLS_CERT key=$TLS_KEY
    if [ -z "$cert" ] && [ -f "/etc/letsencrypt/live/$DOMAIN/fullchain.pem" ]; then
      cert=/etc/letsencrypt/live/$DOMAIN/fullchain.pem key=/etc/letsencrypt/live/$DOMAIN/privkey.pem
    fi
    if [ -z "$cert" ]; then
      cert=$CONF_DIR/tls/$DOMAIN.crt key=$CONF_DIR/tls/$DOMAIN.key
      if [ ! -f "$cert" ]; then
        command -v openssl >/dev/null 2>&1 || die "no certificate for $DOMAIN: pass --tls-cert/--tls-key, or install openssl for a self-signed one"
        act "make a self-signed certificate for $DOMAIN in $CONF_DIR/tls (replace it with a real one)" self_signed "$DOMAIN" "$cert" "$key"
      fi
    fi
    [ -f "$cert" ] || ((DRY)) || die "TLS certificate $cert does not exist"
    [ -f "$key" ] || ((DRY)) || die "TLS key $key does not exist"
    put_file 0644 root:root "$NGINX_SITE" < <(sed -e "s|@DOMAIN@|$DOMAIN|g" -e "s|@SOCKET@|$SOCKET|g" -e "s|@CERT@|$cert|g" -e "s|@KEY@|$key|g" "$SRC/deploy/nginx/slipway.conf") || true
    if [ "$(readlink "$NGINX_LINK" 2>/dev/null)" != "$NGINX_SITE" ]; then act "enable the nginx site" ln -sfn "$NGINX_SITE" "$NGINX_LINK"; fi
    if ((CHANGED != before)) && ((DRY == 0)); then
      local out
      out=$(nginx -t 2>&1) || { printf '%s\n' "$out" >&2; die "nginx -t rejects the configuration (above)"; }
      systemctl reload-or-restart nginx.service || die "nginx did not reload"
    fi
  else
    put_file 0644 root:root "$CADDY_SITE" < <(sed -e "s|@DOMAIN@|$DOMAIN|g" -e "s|@SOCKET@|$SOCKET|g" "$SRC/deploy/caddy/slipway.caddy") || true
    if ! grep -qs '^import Caddyfile.d/\*.caddy' /etc/caddy/Caddyfile; then
      act "import Caddyfile.d/*.caddy in /etc/caddy/Caddyfile" caddy_import
    fi
    if ((CHANGED != before)) && ((DRY == 0)); then
      caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile >/dev/null 2>&1 || die "caddy validate rejects /etc/caddy/Caddyfile"
      systemctl reload-or-restart caddy.service || die "caddy did not reload"
    fi
  fi
  ((CHANGED != before)) || info "unchanged"
}

caddy_import() { printf '\nimport Caddyfile.d/*.caddy\n' >>/etc/caddy/Caddyfile; }

self_signed() { # self_signed NAME CERT KEY
  install -d -m 0700 "$(dirname "$2")"
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$1" -addext "subjectAltName=DNS:$1" -keyout "$3" -out "$2" 2>/dev/null
  chmod 600 "$3"
}

remove_proxy() {
  local reload=''
  if [ -e "$NGINX_LINK" ] || [ -e "$NGINX_SITE" ]; then act "remove the nginx site" rm -f "$NGINX_LINK" "$NGINX_SITE"; reload=nginx; fi
  if [ -e "$CADDY_SITE" ]; then act "remove the Caddy site" rm -f "$CADDY_SITE"; reload=caddy; fi
  if [ -n "$reload" ] && ((DRY == 0)) && systemctl is-active --quiet "$reload.service"; then systemctl reload "$reload.service" || warn "$reload did not reload"; fi
}

print_setup_link() {
  ((DRY)) && return 0
  local token_file=$DATA_DIR/setup-token url
  url=$(env_get SLIPWAY_PUBLIC_URL)
  if [ -z "$url" ]; then url=http://$(env_get SLIPWAY_LISTEN); fi
  if [ -f "$token_file" ]; then
    printf '\n  No administrator exists yet. Open this link to create one:\n\n    %s/setup#token=%s\n\n' "${url%/}" "$(tr -d '\n' <"$token_file")"
    [[ $url == http://127.0.0.1* ]] && printf '  (The panel listens on loopback: reach it through an SSH tunnel, or re-run with --proxy nginx|caddy --domain NAME.)\n\n'
  fi
  return 0
}

# --- commands -------------------------------------------------------------------------------
ENV_CHANGED=0
RELEASE_SWITCHED=0

cmd_install() {
  check_host; check_node; resolve_modules; check_source
  local cur
  cur=$(current_release)
  install_packages
  setup_user
  step "directories"
  ensure_dir 0700 "$USER_NAME:$USER_NAME" "$DATA_DIR"
  ensure_dir 0700 "$USER_NAME:$USER_NAME" "$DATA_DIR/backups"
  ensure_dir 0755 root:root "$CONF_DIR"
  local before=$CHANGED
  write_env
  ((CHANGED == before)) || ENV_CHANGED=$((CHANGED + 1))
  stage_release
  if [ -z "$cur" ]; then
    if ((DRY)); then info "would: point $PREFIX/current at $NEW_RELEASE"; else switch_link current "$NEW_RELEASE"; fi
    RELEASE_SWITCHED=1
  elif [ "$cur" != "$NEW_RELEASE" ]; then
    ((NEW_ADDED == 0)) || rm -rf "${PREFIX:?}/releases/$NEW_RELEASE"
    die "Slipway $cur is installed and this tree is $NEW_RELEASE: run install.sh upgrade to switch (it takes a backup first)"
  fi
  write_unit
  if ((RELEASE_SWITCHED)) || ! systemctl is-active --quiet slipway.service; then run_migrations; fi
  start_service
  setup_proxy
  finish
  print_setup_link
}

restore_backup() { # restore_backup FILE: into the data dir, with the current release's CLI
  as_slipway restore --from "$1" --force >/dev/null
}

# Back to OLD after a failed upgrade step: the pre-upgrade backup restores the data as it was.
auto_rollback() {
  local old=$1 backup=$2 why=$3
  printf 'install.sh: %s; rolling back to %s\n' "$why" "$old" >&2
  STEP="rollback to $old"
  systemctl stop slipway.service 2>/dev/null || true
  switch_link current "$old"
  [ -L "$PREFIX/previous" ] && [ "$(previous_release)" = "$old" ] && rm -f "$PREFIX/previous"
  restore_backup "$backup" || die "restoring $backup failed: the panel is stopped; restore it by hand (docs/OPERATIONS.md)"
  systemctl start slipway.service || die "the previous version $old did not start again: journalctl -u slipway"
  wait_ready 60 || die "the previous version $old does not answer /api/v1/ready: journalctl -u slipway"
  rm -rf "${PREFIX:?}/releases/$NEW_RELEASE"
  die "upgrade to $NEW_RELEASE failed ($why); $old is running again with the data restored from $backup"
}

cmd_upgrade() {
  check_host
  local old
  old=$(current_release)
  [ -n "$old" ] || die "Slipway is not installed here: run install.sh (install) first"
  check_node; resolve_modules; check_source
  install_packages
  setup_user
  local before=$CHANGED
  write_env
  ((CHANGED == before)) || ENV_CHANGED=$((CHANGED + 1))
  stage_release
  if [ "$NEW_RELEASE" = "$old" ]; then
    write_unit
    start_service
    setup_proxy
    info "$old is already the installed version"
    finish
    return 0
  fi
  if ((DRY)); then
    info "would: back up the panel (slipway backup), stop it, switch $old -> $NEW_RELEASE, migrate, start; roll back on failure"
    finish; return 0
  fi
  step "backup before the upgrade"
  local backup
  backup=$DATA_DIR/backups/pre-upgrade-$old-to-$NEW_RELEASE-$(date -u +%Y%m%dT%H%M%SZ).tar.gz
  as_slipway backup --out "$backup" | sed 's/^/    /'
  [ -s "$backup" ] || die "the backup $backup was not written: nothing was changed"
  step "switching $old -> $NEW_RELEASE"
  stop_service
  switch_link previous "$old"
  switch_link current "$NEW_RELEASE"
  printf '%s\n' "$backup" >"$PREFIX/previous.backup"
  RELEASE_SWITCHED=1
  write_unit
  run_migrations || auto_rollback "$old" "$backup" "the migration failed"
  STEP=service
  systemctl start slipway.service || auto_rollback "$old" "$backup" "$NEW_RELEASE did not start"
  wait_ready 60 || auto_rollback "$old" "$backup" "$NEW_RELEASE does not answer /api/v1/ready"
  changed "started $NEW_RELEASE"
  setup_proxy
  prune_releases
  info "upgraded $old -> $NEW_RELEASE (roll back with: install.sh rollback)"
  finish
}

confirm() { # confirm PROMPT: --yes, or the word typed on a terminal
  ((YES)) && return 0
  [ -t 0 ] || die "$1: refusing without a terminal to ask on; pass --yes"
  local answer
  read -r -p "$1 Type yes to go on: " answer
  [ "$answer" = yes ] || die "cancelled"
}

cmd_rollback() {
  check_host
  local cur prev backup
  cur=$(current_release); prev=$(previous_release)
  [ -n "$cur" ] || die "Slipway is not installed here"
  if [ -z "$prev" ] || [ ! -d "$PREFIX/releases/$prev" ]; then die "there is no previous version to roll back to"; fi
  backup=$(cat "$PREFIX/previous.backup" 2>/dev/null || true)
  [ -f "$backup" ] || die "the backup taken before the upgrade ($backup) is missing: cannot restore $prev's data"
  NODE=$(sed -n 's|^ExecStart=\([^ ]*\) .*|\1|p' "$UNIT")
  if ((DRY)); then info "would: stop, switch $cur -> $prev, restore $backup, start"; finish; return 0; fi
  confirm "Roll back from $cur to $prev and restore the data as it was before the upgrade ($backup)? Changes since then are lost."
  step "rolling back $cur -> $prev"
  stop_service
  switch_link current "$prev"
  rm -f "$PREFIX/previous" "$PREFIX/previous.backup"
  restore_backup "$backup" || die "restoring $backup failed: the panel is stopped (docs/OPERATIONS.md: restore)"
  systemctl start slipway.service || die "$prev did not start: journalctl -u slipway"
  wait_ready 60 || die "$prev does not answer /api/v1/ready: journalctl -u slipway"
  info "$prev is running again; $cur stays in $PREFIX/releases until the next upgrade"
  finish
}

cmd_uninstall() {
  [ "$(id -u)" -eq 0 ] || die "run as root"
  step "removing the service"
  if [ -f "$UNIT" ] || systemctl cat slipway.service >/dev/null 2>&1; then
    stop_service
    if systemctl is-enabled --quiet slipway.service 2>/dev/null; then act "disable slipway.service" systemctl disable --quiet slipway.service; fi
  fi
  local f
  for f in "$UNIT" "$DROPIN" "$WRAPPER"; do [ ! -e "$f" ] || act "remove $f" rm -f "$f"; done
  [ ! -d "$(dirname "$DROPIN")" ] || act "remove $(dirname "$DROPIN")" rmdir "$(dirname "$DROPIN")"
  ((DRY)) || systemctl daemon-reload
  remove_proxy
  step "removing the code"
  [ ! -e "$PREFIX" ] || act "remove $PREFIX" rm -rf "$PREFIX"
  if ((PURGE)); then
    step "purging data, settings and the $USER_NAME user"
    if [ -e "$DATA_DIR" ] || [ -e "$CONF_DIR" ] || id "$USER_NAME" >/dev/null 2>&1; then
      ((DRY)) || confirm "Delete $DATA_DIR (the database, secrets, SSH keys and backups) and $CONF_DIR for good?"
      [ ! -e "$DATA_DIR" ] || act "remove $DATA_DIR" rm -rf "$DATA_DIR"
      [ ! -e "$CONF_DIR" ] || act "remove $CONF_DIR" rm -rf "$CONF_DIR"
      ! id "$USER_NAME" >/dev/null 2>&1 || act "remove user $USER_NAME" userdel "$USER_NAME"
      if getent group "$USER_NAME" >/dev/null 2>&1; then act "remove group $USER_NAME" groupdel "$USER_NAME"; fi
    fi
  elif [ -d "$DATA_DIR" ]; then
    info "kept: $DATA_DIR (data) and $CONF_DIR (settings); install.sh uninstall --purge removes them"
  fi
  finish
}

finish() {
  if ((DRY)); then
    ((CHANGED)) && echo "Dry run: the steps marked 'would' are what $CMD would do; nothing was changed." || echo "Dry run: nothing to do."
  elif ((CHANGED)); then
    echo "Done."
  else
    echo "No changes: everything is already in place."
  fi
}

case $CMD in
  install) cmd_install ;;
  upgrade) cmd_upgrade ;;
  rollback) cmd_rollback ;;
  uninstall) cmd_uninstall ;;
esac
