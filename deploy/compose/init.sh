#!/bin/sh
# One-shot `init` service of docker-compose.yml (hopgate/ingress image, the hopgate CLI):
# registers the demo client once, writes the demo agent's config into the shared volume, and
# sets the demo route. Re-runs keep the client and its token while both are still there.
set -eu
CONFIG=/var/lib/hopgate/agent.yaml
CLIENT_ID="${DEMO_CLIENT_ID:-demo}"
HOST="${DEMO_HOST:-app.hopgate.test}"
if [ -s "$CONFIG" ] && hopgate client ls | grep -qx "$CLIENT_ID"; then
  echo "init: client ${CLIENT_ID} and ${CONFIG} already there"
else
  token="$(hopgate client add "$CLIENT_ID" --replace)"
  umask 077
  cat >"$CONFIG.tmp" <<YAML
server: hub-1:8443,hub-2:8443
server_name: hub.hopgate.test
ca_file: /certs/ca.pem
client_id: ${CLIENT_ID}
token: ${token}
services:
  web: origin:8000
ops_listen: 0.0.0.0:9090
YAML
  mv "$CONFIG.tmp" "$CONFIG"
  echo "init: registered client ${CLIENT_ID}, wrote ${CONFIG}"
fi
hopgate route set "$HOST" / "$CLIENT_ID/web"
hopgate route ls
