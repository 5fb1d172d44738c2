#!/usr/bin/env bash
# Installs everything the demo and the tests need on Debian or Ubuntu, then `npm ci`; with --demo
# it runs the demo too. The README's quick start runs it, and .ci/run runs it for its own installs,
# so the two cannot drift (test/setup-script.test.ts holds both to that). Safe to run again: each
# step skips what is present.
#
#   bash scripts/setup.sh [--demo] [--image-tools] [--dry-run]
#
#   --demo         run `npm run demo` at the end
#   --image-tools  also podman, buildah, mmdebstrap, runc and what they use (npm run test:image)
#   --dry-run      print what would be installed, install nothing
#
# Needs root or sudo for apt-get. PostgreSQL 15 comes from the distribution where it has
# postgresql-15 (Debian 12), otherwise from apt.postgresql.org (PGDG), set up with the script
# Debian's postgresql-common ships for that; see README.md, "Quick start", for why not an embedded
# PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

demo=false
image_tools=false
dry_run=false
for arg in "$@"; do
  case "$arg" in
    --demo) demo=true ;;
    --image-tools) image_tools=true ;;
    --dry-run) dry_run=true ;;
    *)
      echo "setup: unknown option $arg (usage: bash scripts/setup.sh [--demo] [--image-tools] [--dry-run])" >&2
      exit 2
      ;;
  esac
done

say() { echo "setup: $*"; }
has() { command -v "$1" >/dev/null 2>&1; }

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if has sudo; then
    sudo=(sudo)
  elif ! $dry_run; then
    echo "setup: installing packages needs root: run it as root or install sudo" >&2
    exit 1
  fi
fi
apt_install() {
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@"
}

# --- Node.js >= 20.19 (package.json "engines") ---------------------------------------------------
node_ok() {
  has node && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}

# --- System packages: what each test helper names in its install hint -----------------------------
PG_BINDIR_15=/usr/lib/postgresql/15/bin
apt_packages=()
pg_from_pgdg=false
if [ ! -x "$PG_BINDIR_15/initdb" ]; then
  apt_packages+=(postgresql-15 postgresql-client-15)
  # Debian 12 has postgresql-15; Ubuntu and other Debian releases ship another major version.
  if ! apt-cache show postgresql-15 >/dev/null 2>&1; then pg_from_pgdg=true; fi
fi
has zstd || apt_packages+=(zstd)
has gzip || apt_packages+=(gzip)
has tar || apt_packages+=(tar)
has pgrep || apt_packages+=(procps)
has script || apt_packages+=(bsdutils) # util-linux script: the terminal-output test's pseudo-terminal
# age: the runner's encryption stage, and the reference CLI the encryption tests decrypt with.
{ has age && has age-keygen; } || apt_packages+=(age)
# The TLS test cluster's private CA (test/helpers/tls-ca.ts) and running pods as their uid.
has openssl || apt_packages+=(openssl)
has setpriv || apt_packages+=(util-linux)
# test/setup-script.test.ts lints this script and .ci/run.
has shellcheck || apt_packages+=(shellcheck)
# The exporter's tests: a real Prometheus scrapes it and promtool tests its alert rules.
{ has prometheus && has promtool; } || apt_packages+=(prometheus)
if $image_tools; then
  # The image test (npm run test:image) builds and runs the runner image with podman as root; see
  # test/image/containers.conf for why runc.
  for tool in podman buildah mmdebstrap runc newuidmap slirp4netns fuse-overlayfs; do
    if ! has "$tool"; then
      case "$tool" in
        newuidmap) apt_packages+=(uidmap) ;;
        *) apt_packages+=("$tool") ;;
      esac
    fi
  done
fi
node_ok || apt_packages+=(nodejs)
# moto_server (a local S3, CloudWatch and SNS for the tests): Debian has no python3-moto package,
# so it comes from PyPI, through pipx where pip may not install system-wide (PEP 668).
moto=false
has moto_server || moto=true
if $moto && ! has pipx && ! has pip; then apt_packages+=(pipx); fi

if $dry_run; then
  say "would install: ${apt_packages[*]:-nothing from apt}"
  $pg_from_pgdg && say "would add apt.postgresql.org for postgresql-15"
  $moto && say "would install moto_server from PyPI"
  if $demo; then say "would run: npm ci && npm run demo"; else say "would run: npm ci"; fi
  exit 0
fi

if [ ${#apt_packages[@]} -gt 0 ]; then
  say "installing ${apt_packages[*]}"
  "${sudo[@]}" apt-get update -qq
  if $pg_from_pgdg; then
    say "postgresql-15 is not in this distribution: adding apt.postgresql.org (PGDG)"
    apt_install postgresql-common ca-certificates
    "${sudo[@]}" /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y
  fi
  apt_install "${apt_packages[@]}"
fi
if ! node_ok; then
  echo "setup: Node.js >= 20.19 is needed and this distribution's nodejs is older ($(node --version 2>/dev/null || echo none));" \
    "install Node.js 20 or 22 (https://nodejs.org/en/download, or NodeSource's packages), then run this again" >&2
  exit 1
fi

if $moto; then
  say "installing moto_server"
  # pip only as root (a user's pip installs into ~/.local/bin, which a new shell may lack).
  if ! { [ ${#sudo[@]} -eq 0 ] && has pip && pip install -q "moto[server]"; }; then
    has pipx || apt_install pipx
    # Into /usr/local/bin, which is on every PATH.
    "${sudo[@]}" env PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin pipx install "moto[server]"
  fi
  hash -r
  has moto_server || {
    echo "setup: moto_server is still not on PATH ($PATH)" >&2
    exit 1
  }
fi

say "npm ci"
npm ci --no-audit --no-fund
if $demo; then npm run demo; fi
