import { Gauge, type Registry } from 'prom-client';

/** One certificate this process knows: its name (host) and the end of its validity, in ms since the epoch. */
export interface CertificateExpiry {
  name: string;
  notAfterMs: number;
}

/**
 * `hopgate_certificate_expiry_timestamp_seconds{name}`: the notAfter of each certificate the
 * process holds (the ingress: the certificates it loaded; the hub: its DTLS certificate;
 * cert-manager: the records of the names it manages). Names are bounded by the route table and
 * HOPGATE_ACME_DOMAINS. Read at scrape time; a name that is gone disappears.
 */
export function addCertificateExpiry(registry: Registry, certificates: () => Iterable<CertificateExpiry>): void {
  new Gauge({
    name: 'hopgate_certificate_expiry_timestamp_seconds',
    help: 'End of validity (notAfter) of each certificate this process holds, in seconds since the Unix epoch.',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { name, notAfterMs } of certificates()) this.set({ name }, Math.floor(notAfterMs / 1000));
    },
  });
}
