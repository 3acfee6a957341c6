#!/usr/bin/env bash
# Creates a throw-away PKI for sanpool's mutual TLS into DIR:
#
#   ca.pem ca.key            self-signed CA (EC P-256, 10 years)
#   host.pem host.key        server cert, SAN: 127.0.0.1, ::1, localhost, $(hostname)
#   client.pem client.key    client cert (extendedKeyUsage clientAuth)
#
# Usage: scripts/make-test-certs.sh DIR [EXTRA_SAN...]
#   EXTRA_SAN entries are added to the host cert, e.g. "DNS:host1" "IP:10.0.0.5".
# Existing files in DIR are overwritten. Keys are written mode 0600.
# For tests and the rig only: production deployments bring their own PKI.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi

dir=$1
shift
mkdir -p "$dir"
umask 077

days=3650
host=$(hostname 2>/dev/null || echo localhost)
san="IP:127.0.0.1,IP:::1,DNS:localhost"
if [[ $host != localhost && -n $host ]]; then
  san+=",DNS:$host"
fi
for extra in "$@"; do
  san+=",$extra"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# CA.
newkey "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" \
  -subj "/O=sanpool/CN=sanpool test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$dir/ca.pem"

# Leaf certificates signed by the CA.
sign() {  # name cn ext-file
  local name=$1 cn=$2 ext=$3
  newkey "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/O=sanpool/CN=$cn" \
    -out "$tmp/$name.csr"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -CAserial "$tmp/ca.srl" -days "$days" -sha256 \
    -extfile "$ext" -out "$dir/$name.pem" 2>/dev/null
}

cat >"$tmp/host.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EOF
sign host "$host" "$tmp/host.ext"

cat >"$tmp/client.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
sign client "sanpool-client" "$tmp/client.ext"

chmod 0644 "$dir/ca.pem" "$dir/host.pem" "$dir/client.pem"
echo "make-test-certs: wrote ca, host and client certificates to $dir"
