#!/bin/bash
# docgraph-healthcheck PORT [PATH]
#
# Exits 0 when http://127.0.0.1:PORT/PATH (default /readyz) answers 200, 1
# otherwise. It uses bash's /dev/tcp, so the runtime image needs neither curl
# nor wget. docgraph serves /healthz (alive) and /readyz (connected to NATS
# and consuming) on --metrics.addr.
set -uo pipefail

port=${1:?usage: docgraph-healthcheck PORT [PATH]}
path=${2:-/readyz}

if ! exec 3<>"/dev/tcp/127.0.0.1/${port}"; then
	echo "docgraph-healthcheck: nothing listens on port ${port}" >&2
	exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "${path}" >&3
if ! IFS= read -r -t 5 status <&3; then
	echo "docgraph-healthcheck: no answer from port ${port}" >&2
	exit 1
fi
exec 3<&-
status=${status%$'\r'}
case ${status} in
"HTTP/1."[01]" 200"*) exit 0 ;;
*)
	echo "docgraph-healthcheck: ${path}: ${status}" >&2
	exit 1
	;;
esac
