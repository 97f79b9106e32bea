#!/usr/bin/env bash
# Installs the servers and tools the comparison rungs and their tests use:
# redis-server, redis-tools, postgresql (server + pgbench), fio, memcached, nginx (the
# CDN-style edge), dnsmasq-base (a local caching resolver), prometheus (for promtool,
# which checks `ladder export`'s OpenMetrics) and prometheus-node-exporter (the textfile
# collector the export is written for). Idempotent: installs
# only what is missing. Nothing is started or enabled: ladder starts its own servers
# in temp dirs and stops them at the end.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have redis-server || missing+=(redis-server)
have redis-benchmark || missing+=(redis-tools)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
    missing+=(postgresql postgresql-contrib)
fi
have fio || missing+=(fio)
have memcached || [ -x /usr/bin/memcached ] || missing+=(memcached)
[ -x /usr/sbin/nginx ] || have nginx || missing+=(nginx)
[ -x /usr/sbin/dnsmasq ] || have dnsmasq || missing+=(dnsmasq-base)
have promtool || missing+=(prometheus)
have prometheus-node-exporter || [ -x /usr/bin/prometheus-node-exporter ] || missing+=(prometheus-node-exporter)

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup-services: redis-server, redis-tools, postgresql, fio, memcached, nginx, dnsmasq, promtool and node_exporter are installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-services: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if ! have apt-get; then
    echo "setup-services: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
    exit 1
fi

echo "setup-services: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d keeps Debian's maintainer scripts from starting the servers for good.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-services: done"
