#!/usr/bin/env bash
# Development certificates and secrets for docker-compose.yml, in .compose-certs/ (git-ignored):
#   ca.pem                      a local CA (trust it: curl --cacert .compose-certs/ca.pem)
#   ingress.pem / ingress.key   the ingresses' default certificate: app.hopgate.test, *.hopgate.test
#   hub.pem / hub.key           the hubs' DTLS certificate: hub.hopgate.test
#   pebble.pem / pebble.key     the listener of the `acme` profile's Pebble: pebble
#   hub.env                     HOPGATE_DTLS_COOKIE_SECRET shared by both hubs (32 random bytes)
# Keys are world-readable (0644) so the containers' non-root user (uid 10001) can read them:
# for a development stack only. Run once before `docker-compose up`; an existing folder is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${HOPGATE_COMPOSE_CERTS_DIR:-.compose-certs}"
# Validity of the development certificates, in days.
CERT_DAYS=825
if [ -s "$DIR/hub.env" ] && [ -s "$DIR/ca.pem" ]; then
  echo "compose-certs: ${DIR} exists (delete it for new certificates)" >&2
  exit 0
fi
mkdir -p "$DIR"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days "$CERT_DAYS" \
  -subj "/CN=HopGate compose dev CA" -keyout "$tmp/ca.key" -out "$DIR/ca.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() { # name, SANs
  local name="$1" sans="$2"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=${name}" \
    -keyout "$DIR/${name%%.*}.key" -out "$tmp/leaf.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$sans" >"$tmp/ext"
  openssl x509 -req -in "$tmp/leaf.csr" -CA "$DIR/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
    -days "$CERT_DAYS" -extfile "$tmp/ext" -out "$tmp/leaf.pem" 2>/dev/null
  cat "$tmp/leaf.pem" "$DIR/ca.pem" >"$DIR/${name%%.*}.pem"
}
leaf app.hopgate.test 'DNS:app.hopgate.test,DNS:*.hopgate.test'
mv "$DIR/app.key" "$DIR/ingress.key"; mv "$DIR/app.pem" "$DIR/ingress.pem"
leaf hub.hopgate.test 'DNS:hub.hopgate.test'
leaf pebble 'DNS:pebble,DNS:localhost,IP:127.0.0.1'
echo "HOPGATE_DTLS_COOKIE_SECRET=$(openssl rand -hex 32)" >"$DIR/hub.env"
rm -f "$DIR/ca.srl"
chmod 0755 "$DIR"
chmod 0644 "$DIR"/*
echo "compose-certs: wrote ${DIR}/ (CA: ${DIR}/ca.pem)" >&2
