import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface DevCertificate {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export interface DevCa extends DevCertificate {
  /** Issues a leaf certificate for `names` (DNS names or IPv4 addresses). */
  issue(basename: string, names: readonly string[], options?: { keyType?: 'ec' | 'rsa'; days?: number }): DevCertificate;
}

/** Validity of dev certificates, in days. */
export const DEV_CERT_DAYS = 30;

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function genKey(file: string, keyType: 'ec' | 'rsa', cwd: string): void {
  if (keyType === 'ec') openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], cwd);
  else openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file], cwd);
}

function read(dir: string, cert: string, key: string): DevCertificate {
  const certFile = path.join(dir, cert);
  const keyFile = path.join(dir, key);
  return { certFile, keyFile, certPem: fs.readFileSync(certFile, 'utf8'), keyPem: fs.readFileSync(keyFile, 'utf8') };
}

/** A throwaway certificate authority (P-256) in `dir`, made with the openssl CLI. */
export function createDevCa(dir: string, commonName = 'HopGate Dev CA'): DevCa {
  fs.mkdirSync(dir, { recursive: true });
  genKey('ca.key', 'ec', dir);
  openssl(
    ['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', String(DEV_CERT_DAYS), '-subj', `/CN=${commonName}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem'],
    dir,
  );
  const ca = read(dir, 'ca.pem', 'ca.key');
  return {
    ...ca,
    issue(basename, names, options = {}) {
      const keyType = options.keyType ?? 'ec';
      const san = names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      fs.writeFileSync(
        path.join(dir, `${basename}.ext`),
        `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
      );
      genKey(`${basename}.key`, keyType, dir);
      openssl(['req', '-new', '-key', `${basename}.key`, '-subj', `/CN=${names[0] ?? basename}`, '-out', `${basename}.csr`], dir);
      openssl(
        ['x509', '-req', '-in', `${basename}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days',
          String(options.days ?? DEV_CERT_DAYS), '-sha256', '-extfile', `${basename}.ext`, '-out', `${basename}.pem`],
        dir,
      );
      return read(dir, `${basename}.pem`, `${basename}.key`);
    },
  };
}
