import { nkeys } from '@nats-io/transport-node';


type KeyPair = ReturnType<typeof nkeys.createUser>;

/** A JWT of NATS decentralized auth (nats-io/jwt v2 claims), signed with `issuer`'s nkey (ed25519). */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${encode({ typ: 'JWT', alg: 'ed25519-nkey' })}.${encode({ jti: '', iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats })}`;
  return `${body}.${Buffer.from(issuer.sign(Buffer.from(body))).toString('base64url')}`;
}

/**
 * An operator-mode nats-server setup made from scratch: the server config (operator JWT, one
 * account preloaded in a memory resolver) and a `.creds` file for one user of that account
 * allowed to publish on `publishAllow` only.
 */
export function operatorSetup(publishAllow: string[]): { serverConfig: string; creds: string } {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const unlimited = { subs: -1, data: -1, payload: -1 };
  const operatorJwt = natsJwt(operator, operator.getPublicKey(), 'hopgate-test-operator', { type: 'operator', version: 2 });
  const accountJwt = natsJwt(operator, account.getPublicKey(), 'hopgate', {
    limits: { ...unlimited, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
    default_permissions: { pub: {}, sub: {} },
    type: 'account',
    version: 2,
  });
  const userJwt = natsJwt(account, user.getPublicKey(), 'hopgate-cert-manager', { ...unlimited, pub: { allow: publishAllow }, sub: {}, type: 'user', version: 2 });
  const seed = new TextDecoder().decode(user.getSeed());
  return {
    serverConfig: `operator: ${operatorJwt}\nresolver: MEMORY\nresolver_preload: {\n  ${account.getPublicKey()}: ${accountJwt}\n}\n`,
    creds: `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
  };
}

/** A new user nkey: its seed (what the service holds) and public key (what the server config names). */
export function userNkey(): { seed: string; publicKey: string } {
  const user = nkeys.createUser();
  return { seed: new TextDecoder().decode(user.getSeed()), publicKey: user.getPublicKey() };
}
