/**
 * A DTLS hub in a process of its own, for tests that kill it with SIGKILL: listens on
 * 127.0.0.1 (any port) with the certificate in HUB_CERT_PEM / HUB_KEY_PEM, echoes every
 * datagram of every session, and prints `{"port":N}` on stdout once listening.
 */
import { DtlsHubServer, type DtlsServerLink } from '../src/index.js';

const hub = await DtlsHubServer.listen({ host: '127.0.0.1', port: 0, certPem: process.env['HUB_CERT_PEM'], keyPem: process.env['HUB_KEY_PEM'] });
hub.on('session', (link: DtlsServerLink) => link.onDatagram((datagram) => link.send(datagram)));
process.stdout.write(`${JSON.stringify({ port: hub.address().port })}\n`);
