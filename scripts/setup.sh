#!/usr/bin/env bash
# Install what the project needs, and nothing twice:
#   PostgreSQL and Redis (Debian packages when root; otherwise the command to run is printed),
#   Toxiproxy v2.12.0 built with `go install` into .tools/bin (unless toxiproxy-server is on PATH),
#   and .venv with the project installed from the pinned constraints.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOXIPROXY_VERSION=2.12.0
say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 3; }

is_root() { [ "$(id -u)" = 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }
have_postgres() {
  have postgres && have initdb && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  ls /opt/homebrew/opt/postgresql*/bin/initdb /usr/local/opt/postgresql*/bin/initdb >/dev/null 2>&1
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "apt-get install $*"
  # policy-rc.d 101: install the packages but do not start their system services;
  # the harness runs its own instances on its own ports.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  if [ "$created" = 1 ]; then rm -f "$policy"; fi
}

need_pkgs=()
have_postgres || need_pkgs+=(postgresql)
have redis-server || need_pkgs+=(redis-server)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if is_root && have apt-get; then
    apt_install "${need_pkgs[@]}"
  elif have brew; then
    die "missing ${need_pkgs[*]}: run \`brew install postgresql@15 redis\` and try again"
  else
    die "missing ${need_pkgs[*]}: run \`sudo apt-get install -y ${need_pkgs[*]}\` and try again"
  fi
fi

# --- Toxiproxy -------------------------------------------------------------------------------
if have toxiproxy-server; then
  say "toxiproxy-server found on PATH: $(command -v toxiproxy-server)"
elif [ -x "$ROOT/.tools/bin/toxiproxy-server" ]; then
  :
else
  have go || die "Go is needed to build Toxiproxy: install Go >= 1.22 (https://go.dev/dl, or \`brew install go\`), or put toxiproxy-server on PATH"
  say "building Toxiproxy v$TOXIPROXY_VERSION with go install (first run only)"
  mkdir -p "$ROOT/.tools/bin"
  tmp=$(mktemp -d)
  GOBIN="$tmp" GOFLAGS=-mod=mod go install \
    -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION"
  mv "$tmp/server" "$ROOT/.tools/bin/toxiproxy-server"
  rmdir "$tmp"
fi

# --- Python ----------------------------------------------------------------------------------
pick_python() {
  for cand in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$cand" ] || continue
    have "$cand" || continue
    if "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  return 1
}
if [ ! -x .venv/bin/python ]; then
  py=$(pick_python) || die "Python >= 3.11 is needed (set PYTHON=/path/to/python3.11)"
  say "creating .venv with $py"
  "$py" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
if [ ! -e "$stamp" ]; then
  say "installing the project into .venv (pinned by constraints.txt)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
say "ready"
