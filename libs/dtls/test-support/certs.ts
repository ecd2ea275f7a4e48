import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** One server identity: `certPem` is the chain the server sends (leaf first). */
export interface TestIdentity {
  certPem: string;
  keyPem: string;
  certFile: string;
  /** Leaf only, plus the intermediates as a separate file (for openssl -cert_chain). */
  leafFile: string;
  chainFile: string | undefined;
  keyFile: string;
}

/** A throwaway PKI made with openssl in a temp dir. */
export interface TestPki {
  dir: string;
  /** The trusted root. */
  caPem: string;
  caFile: string;
  /** A root nobody issued the hub certificates from. */
  otherCaPem: string;
  /** P-256 leaf <- P-256 intermediate <- root; SEC1 key. Names: hub.test, 127.0.0.1. */
  ecdsa: TestIdentity;
  /**
   * RSA-2048 leaf <- RSA-2048 intermediate <- root; PKCS#8 key. Names: hub.test, 127.0.0.1.
   * The chain is larger than one datagram: the Certificate message is fragmented.
   */
  rsa: TestIdentity;
  /** P-256 leaf <- root, already expired. */
  expired: TestIdentity;
  cleanup(): void;
}

export const TEST_SERVER_NAME = 'hub.test';

const LEAF_EXT = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth',
  `subjectAltName=DNS:${TEST_SERVER_NAME},IP:127.0.0.1`,
].join('\n');
const CA_EXT = ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign'].join('\n');

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ecKey(dir: string, name: string): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
}

function rsaKey(dir: string, name: string): void {
  openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`]);
}

function rootCa(dir: string, name: string): void {
  ecKey(dir, name);
  openssl(dir, [
    'req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=HopGate Test ${name}`, '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', `${name}.pem`,
  ]);
}

function sign(dir: string, name: string, issuer: string, extFile: string, days: string): void {
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial',
    '-days', days, '-extfile', extFile, '-out', `${name}.pem`,
  ]);
}

function identity(dir: string, leaf: string, intermediate?: string): TestIdentity {
  const read = (file: string): string => fs.readFileSync(path.join(dir, file), 'utf8');
  const certPem = read(`${leaf}.pem`) + (intermediate ? read(`${intermediate}.pem`) : '');
  const certFile = path.join(dir, `${leaf}-chain.pem`);
  fs.writeFileSync(certFile, certPem);
  return {
    certPem,
    keyPem: read(`${leaf}.key`),
    certFile,
    leafFile: path.join(dir, `${leaf}.pem`),
    chainFile: intermediate ? path.join(dir, `${intermediate}.pem`) : undefined,
    keyFile: path.join(dir, `${leaf}.key`),
  };
}

/** Makes the test PKI (about a second, mostly the RSA keys). */
export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-dtls-pki-'));
  const leafExt = path.join(dir, 'leaf.ext');
  const caExt = path.join(dir, 'ca.ext');
  fs.writeFileSync(leafExt, LEAF_EXT);
  fs.writeFileSync(caExt, CA_EXT);

  rootCa(dir, 'root');
  rootCa(dir, 'other');
  ecKey(dir, 'intermediate');
  sign(dir, 'intermediate', 'root', caExt, '30');
  ecKey(dir, 'ecdsa-leaf');
  sign(dir, 'ecdsa-leaf', 'intermediate', leafExt, '30');
  rsaKey(dir, 'rsa-intermediate');
  sign(dir, 'rsa-intermediate', 'root', caExt, '30');
  rsaKey(dir, 'rsa-leaf');
  sign(dir, 'rsa-leaf', 'rsa-intermediate', leafExt, '30');
  ecKey(dir, 'expired-leaf');
  // -days -1: notAfter lies before now, the certificate is expired from the start.
  sign(dir, 'expired-leaf', 'root', leafExt, '-1');

  return {
    dir,
    caPem: fs.readFileSync(path.join(dir, 'root.pem'), 'utf8'),
    caFile: path.join(dir, 'root.pem'),
    otherCaPem: fs.readFileSync(path.join(dir, 'other.pem'), 'utf8'),
    ecdsa: identity(dir, 'ecdsa-leaf', 'intermediate'),
    rsa: identity(dir, 'rsa-leaf', 'rsa-intermediate'),
    expired: identity(dir, 'expired-leaf'),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
