/**
 * The demo's domain: every route host one label under it (`myapp.demo.localhost`) is covered
 * by the wildcard of the demo's ingress certificate. curl (and browsers) refuse a wildcard
 * right under a one-label name (`*.localhost`), but accept one with two labels below the star.
 */
export const DEMO_DOMAIN = 'demo.localhost';

/** Names on the demo's dev-CA ingress certificate. */
export const DEMO_INGRESS_NAMES: readonly string[] = ['localhost', DEMO_DOMAIN, `*.${DEMO_DOMAIN}`, '127.0.0.1'];
