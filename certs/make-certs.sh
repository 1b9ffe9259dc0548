#!/usr/bin/env bash
# Makes a private CA and the certificates a logsender and its logreceivers need for
# mutual TLS (-S -J ca.pem -C CERT -K KEY), all ECDSA P-256. See certs/README.md.
#
#   ca.pem ca.key                 the CA (keep ca.key off the database hosts)
#   server.pem server.key         the logsender's certificate
#   client.pem client.key         the logreceivers' certificate
#   server-encrypted.key, client-encrypted.key   the same keys, encrypted with the
#                                 passphrase in passphrase.txt (-Q @passphrase.txt)
#   other-ca.pem other-client.pem other-client.key   a second CA and a client it signed
#   selfsigned.pem selfsigned.key a self-signed certificate
#   expired-client.pem expired-client.key            signed by ca.pem, expired in 2021
# The last three groups exist to test refusals. Every certificate names DNS:localhost,
# IP:127.0.0.1 and DNS:NAME (default: this host's name) as subject alternative names;
# a NAME that is an IPv4 address is named as IP:NAME instead.
set -euo pipefail

usage() { echo "usage: $0 DIR [NAME]   (makes a CA and certificates for NAME in DIR)" >&2; }
if [[ $# -lt 1 || $# -gt 2 || $1 == -* ]]; then
  usage
  exit 2
fi
dir=$1
name=${2:-$(hostname)}
command -v openssl >/dev/null || { echo "$0: openssl is not installed; install it (apt-get install openssl)" >&2; exit 1; }
if [[ -e $dir/ca.pem || -e $dir/ca.key ]]; then
  echo "$0: $dir already holds a CA (ca.pem); remove it or choose another directory" >&2
  exit 1
fi

umask 077
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=825
san="subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:$name"
if [[ $name =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then
  san="subjectAltName=DNS:localhost,IP:127.0.0.1,IP:$name"
fi

newkey() {  # FILE: a fresh P-256 key
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

ca() {  # PEM KEY CN: a self-signed CA certificate
  newkey "$2"
  openssl req -x509 -new -key "$2" -out "$1" -days 3650 -sha256 -subj "/CN=$3" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
}

leaf_ext() {  # USAGE (serverAuth|clientAuth): extension file for a leaf certificate
  printf '%s\n' "[leaf]" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=$1" "$san" >"$work/$1.ext"
  echo "$work/$1.ext"
}

leaf() {  # PEM KEY CN USAGE CA_PEM CA_KEY: a certificate signed by the CA
  newkey "$2"
  openssl req -new -key "$2" -out "$work/leaf.csr" -subj "/CN=$3"
  openssl x509 -req -in "$work/leaf.csr" -CA "$5" -CAkey "$6" -CAcreateserial \
    -CAserial "$work/serial" -out "$1" -days "$days" -sha256 \
    -extfile "$(leaf_ext "$4")" -extensions leaf 2>/dev/null
}

encrypt() {  # KEY OUT: OUT is KEY encrypted with the passphrase
  openssl pkey -in "$1" -aes256 -passout "file:$dir/passphrase.txt" -out "$2"
}

ca "$dir/ca.pem" "$dir/ca.key" "tranship CA $name"
leaf "$dir/server.pem" "$dir/server.key" "$name" serverAuth "$dir/ca.pem" "$dir/ca.key"
leaf "$dir/client.pem" "$dir/client.key" "$name" clientAuth "$dir/ca.pem" "$dir/ca.key"

openssl rand -hex 16 >"$dir/passphrase.txt"
encrypt "$dir/server.key" "$dir/server-encrypted.key"
encrypt "$dir/client.key" "$dir/client-encrypted.key"

# For refusal tests: another CA, a self-signed certificate, an expired one.
ca "$dir/other-ca.pem" "$work/other-ca.key" "other CA"
leaf "$dir/other-client.pem" "$dir/other-client.key" "$name" clientAuth \
  "$dir/other-ca.pem" "$work/other-ca.key"
newkey "$dir/selfsigned.key"
openssl req -x509 -new -key "$dir/selfsigned.key" -out "$dir/selfsigned.pem" -days "$days" \
  -sha256 -subj "/CN=$name" -addext "$san"

# OpenSSL 3.0's x509 command cannot set a start date in the past; `openssl ca` can.
newkey "$dir/expired-client.key"
openssl req -new -key "$dir/expired-client.key" -out "$work/expired.csr" -subj "/CN=$name"
touch "$work/index.txt"
printf '%s\n' "[ca]" "default_ca=tmp" "[tmp]" "database=$work/index.txt" \
  "new_certs_dir=$work" "serial=$work/ca-serial" "default_md=sha256" "policy=any" \
  "[any]" "commonName=supplied" >"$work/ca.cnf"
echo 01 >"$work/ca-serial"
openssl ca -batch -config "$work/ca.cnf" -cert "$dir/ca.pem" -keyfile "$dir/ca.key" \
  -in "$work/expired.csr" -out "$dir/expired-client.pem" -notext \
  -startdate 20200101000000Z -enddate 20210101000000Z \
  -extfile "$(leaf_ext clientAuth)" -extensions leaf 2>/dev/null

chmod 0644 "$dir"/*.pem
echo "made a CA and certificates for '$name' in $dir (passphrase of the encrypted keys: $dir/passphrase.txt)"
