/**
 * Fuzzing the security providers through a running gateway (issue 3): a seeded generator makes a few thousand
 * malformed, hostile or merely odd credentials — `Authorization` headers (Basic and Bearer, broken in every way
 * we could think of), JWTs (truncated, altered, `alg: none`, key confusion, embedded keys, wrong claims, nested,
 * oversized, deeply nested JSON), cookies (session and SSO, garbage, quoted, huge, repeated), pre-authenticated
 * user headers, `doAs` / `user.name` query values and a JWT query parameter — and sends them over raw sockets (so
 * NUL, control characters and repeated headers reach the gateway as written) to topologies using each provider:
 * ShiroProvider with the file realm and with LDAP realms against a real slapd, JWTProvider and SSOCookieProvider
 * against a real JWKS server, HeaderPreAuth with IP validation, AclsAuthz, and WebAppSec CSRF/CORS.
 *
 * About one GET in six goes as a WebSocket upgrade to the topology's ECHOWS service instead: upgrades run the
 * same chain and must get the same answers, a 101 where HTTP gets a 200, and a refused upgrade must not have
 * reached the backend.
 *
 * Every input has the answer the providers' contracts give it: 400 or 401 for anything that does not
 * authenticate (400 also where the HTTP parser refuses the bytes), 403 only where a provider decides so (an ACL,
 * the IP validator, proxy-user rules, a CORS origin), a CORS preflight's own answers (204, or 405 for a method
 * the policy does not support), and a 2xx only for inputs that are actually valid — never a 5xx, never a hang
 * (each request has a deadline). A 2xx must carry the identity the credential names to the backend, and no
 * credential of the input. Afterwards the gateway still serves, and none of the passwords, tokens or cookie
 * values sent appears in its gateway, access or audit log (the production loggers, writing their files under the
 * test home).
 *
 * The seed is printed; `POSTERN_FUZZ_SEED=<n>` replays a run (the same inputs, signed by that run's fresh keys
 * and with its timestamps), `POSTERN_FUZZ_CASES=<n>` changes its size.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CompactSign, SignJWT } from 'jose';
import { WebSocketServer } from 'ws';
import { Gateway } from '../../src/gateway/gateway.ts';
import { createAuditLog } from '../../src/observability/audit.ts';
import { createAccessLog, createLogger, type Logger } from '../../src/observability/logger.ts';
import { hashPassword } from '../../src/providers/authentication/shiro/password-hash.ts';
import { type Backend, startBackend } from '../helpers/backend.ts';
import { makeHome, type TestHome, topologyXml } from '../helpers/home.ts';
import { epoch, type JwksServer, makeKey, signToken, startJwks, type TestKey } from '../helpers/jwks.ts';
import { PEOPLE_DN, type SlapdFixture, startSlapd } from '../helpers/slapd.ts';
import { searchParams } from './authentication/shiro-fixture.ts';

const SEED = Number(process.env.POSTERN_FUZZ_SEED ?? 20_240_611);
const CASES = Number(process.env.POSTERN_FUZZ_CASES ?? 3000);
/** No answer within this long is a hang. */
const DEADLINE_MS = 20_000;
/** Requests in flight at once. */
const PARALLEL = 8;
const ISSUER = 'https://issuer.fuzz.test';
const ALICE_PASSWORD = 'alice-Fz7q2Lw9Xc4v';
const BOB_PASSWORD = 'bob-Qm3n8Rt5Yp1z';

// ---------------------------------------------------------------------------------------------------------
// A small, seeded generator (mulberry32): the same seed gives the same inputs.

class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  text(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  /** A random alphanumeric string: what a tracked secret is made of (it can be found in a log as is). */
  word(n = 16): string {
    return this.text(n, ALNUM);
  }
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64URL = `${ALNUM}-_`;
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
/** Bytes a header value may not hold (CR and LF left out: they would make other headers, not odd values). */
const CONTROL = [0, 1, 2, 7, 8, 11, 12, 14, 27, 31, 127].map((c) => String.fromCharCode(c)).join('');
const UNICODE = ['é', 'ü', 'ß', 'Ω', 'Ж', '中文', '👾', '\u200b', '\ufeff', '\u202e', 'ǅ', '\ud7ff'];

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

// ---------------------------------------------------------------------------------------------------------
// Cases and their expected answers.

interface Case {
  /** What the input is, for the failure report (never printed with its secrets: those are in the input). */
  label: string;
  topology: string;
  method: string;
  /** The request target after `/gateway/{topology}`, raw (it may hold what a URL may not). */
  target: string;
  /** Headers as written on the wire; a string value is sent as UTF-8 bytes. */
  headers: [string, string | Buffer][];
  /** The local address to connect from (IP validation sees it). */
  from?: string;
  /** Acceptable statuses. */
  expect: readonly number[];
  /** On a 2xx that reached the backend, the user the backend must see as `user.name`. */
  user?: string;
  /** Credentials in the input: they must reach neither the backend nor a log line. */
  secrets: string[];
  /** Sent as a WebSocket upgrade to the topology's ECHOWS service (a 2xx is then a 101). */
  upgrade?: boolean;
}

const REFUSED = [400, 401] as const;

/** A secret we can look for in a JSON log line as is (no escaping), and long enough not to match by chance. */
function trackable(s: string): boolean {
  return s.length >= 12 && /^[\x21-\x7e]+$/.test(s) && !/["\\]/.test(s);
}

interface Tokens {
  /** A valid token per subject (signed by the JWKS key, right issuer and audience). */
  valid: (sub: string, claims?: Record<string, unknown>) => Promise<string>;
  k1: TestKey;
  other: TestKey;
  attacker: TestKey;
  es: TestKey;
  /** The PEM text of k1's public key (the HS256 key-confusion attack signs with it). */
  publicPem: string;
}

interface World {
  sessions: { file: string; ldap: string };
  tokens: Tokens;
}

/** A JWS over exactly this payload text, signed by the key (claims no JWT library would write). */
function signRaw(key: TestKey, payload: string, header: Record<string, unknown> = {}): Promise<string> {
  return new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

/**
 * A JWT that does not authenticate, with a label; `async` since some are signed. `aud` says whether the
 * variant is refused only where an audience is configured (the jwt topology, not sso).
 */
type BadToken = { label: string; token: string; audienceOnly?: boolean };

async function badToken(rng: Rng, t: Tokens): Promise<BadToken> {
  const sub = `u${rng.word(8)}`;
  const good = () => t.valid(sub);
  const claims = { sub, iss: ISSUER, aud: 'postern', exp: epoch(3600) };
  const kind = rng.int(30);
  switch (kind) {
    case 0:
      return {
        label: 'random text',
        token: rng.text(rng.between(1, 300), PRINTABLE.replace(/[;,"\\ ]/g, '')),
      };
    case 1:
      return { label: 'three random segments', token: `${rng.word()}.${rng.word()}.${rng.word()}` };
    case 2:
      return { label: 'dots only', token: '.'.repeat(rng.between(1, 6)) };
    case 3: {
      const tok = await good();
      return { label: 'truncated', token: tok.slice(0, rng.between(1, tok.length - 1)) };
    }
    case 4: {
      // One character changed where it changes the decoded bytes (base64url's spare bits would not).
      const tok = await good();
      for (;;) {
        const i = rng.int(tok.length);
        if (tok[i] === '.') continue;
        const c = rng.pick([...B64URL].filter((x) => x !== tok[i]));
        const altered = tok.slice(0, i) + c + tok.slice(i + 1);
        const [a, b] = [tok, altered].map((x) =>
          x.split('.').map((s) => Buffer.from(s, 'base64url').toString('hex')),
        );
        if (
          a.join('.') !== b.join('.') ||
          altered.split('.').slice(0, 2).join('.') !== tok.split('.').slice(0, 2).join('.')
        )
          return { label: 'one character altered', token: altered };
      }
    }
    case 5: {
      const [h, , s] = (await good()).split('.');
      return {
        label: 'payload swapped (admin)',
        token: `${h}.${b64url(JSON.stringify({ ...claims, sub: 'admin' }))}.${s}`,
      };
    }
    case 6:
      return {
        label: 'alg none',
        token: `${b64url(JSON.stringify({ alg: rng.pick(['none', 'None', 'NONE', 'nOnE']), typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.${rng.chance(0.5) ? '' : rng.word(20)}`,
      };
    case 7: {
      // Key confusion: HS256 with the verification key's public PEM as the HMAC secret.
      const tok = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'k1' })
        .sign(new TextEncoder().encode(t.publicPem));
      return { label: 'HS256 signed with the public key', token: tok };
    }
    case 8:
      return { label: 'signed by a key not in the JWKS', token: await signToken(t.other, { claims }) };
    case 9:
      return {
        label: 'attacker key embedded in the header (jwk), kid of the real key',
        token: await signToken(
          { ...t.attacker, kid: 'k1' },
          {
            claims,
            header: { jwk: t.attacker.jwk, jku: 'http://127.0.0.1:1/jwks', x5u: 'http://127.0.0.1:1/x' },
          },
        ),
      };
    case 10:
      return { label: 'ES256 (not an accepted algorithm)', token: await signToken(t.es, { claims }) };
    case 11:
      return {
        label: 'wrong typ',
        token: await signToken(t.k1, {
          claims,
          header: { typ: rng.pick(['JWE', 'at+jwt', 'JOSE', 'jwt2', '']) },
        }),
      };
    case 12:
      return {
        label: 'expired',
        token: await signToken(t.k1, { claims: { ...claims, exp: epoch(-rng.between(60, 10 ** 6)) } }),
      };
    case 13:
      return {
        label: 'not yet valid',
        token: await signToken(t.k1, { claims: { ...claims, nbf: epoch(rng.between(600, 10 ** 6)) } }),
      };
    case 14:
      return {
        label: 'wrong issuer',
        token: await signToken(t.k1, {
          claims: { ...claims, iss: rng.pick(['KNOXSSO', '', 'https://evil', ISSUER.toUpperCase()]) },
        }),
      };
    case 15:
      return {
        label: 'wrong audience',
        token: await signToken(t.k1, {
          claims: { ...claims, aud: rng.pick(['evil', ['a', 'b'], '', 'POSTERN']) },
        }),
        audienceOnly: true,
      };
    case 16: {
      const { sub: _sub, ...rest } = claims;
      return {
        label: 'no subject',
        token: await signToken(t.k1, { claims: rng.chance(0.5) ? rest : { ...rest, sub: '' } }),
      };
    }
    case 17:
      return {
        label: 'control character in the subject',
        token: await signToken(t.k1, { claims: { ...claims, sub: `ad${rng.pick([...CONTROL])}min` } }),
      };
    case 18:
      return {
        label: 'subject too long',
        token: await signToken(t.k1, { claims: { ...claims, sub: rng.word(1100) } }),
      };
    case 19:
      return {
        label: 'exp is not a number',
        token: await signRaw(
          t.k1,
          JSON.stringify({ ...claims, exp: rng.pick(['9999999999', null, [1], { a: 1 }, true]) }),
        ),
      };
    case 20: {
      // Over the 64 KiB the verifier parses at all, validly signed.
      return {
        label: 'oversized (signed)',
        token: await signToken(t.k1, { claims: { ...claims, pad: rng.word(70_000) } }),
      };
    }
    case 21: {
      // A signed JWS whose payload is another JWT, not JSON claims.
      const inner = await good();
      return { label: 'nested JWT (cty JWT)', token: await signRaw(t.k1, inner, { cty: 'JWT' }) };
    }
    case 22:
      return {
        label: 'JWE-shaped (five segments)',
        token: Array.from({ length: 5 }, () => rng.word(rng.between(0, 40))).join('.'),
      };
    case 23: {
      const [h, p] = (await good()).split('.');
      return { label: 'signature removed', token: `${h}.${p}.` };
    }
    case 24:
      return {
        label: 'header not JSON',
        token: `${b64url(rng.pick(['{', '[]', 'null', '"x"', '{"alg":', '\u0000', '{"alg":"RS256"']))}.${b64url(JSON.stringify(claims))}.${rng.word(40)}`,
      };
    case 25:
      return {
        label: 'payload not JSON',
        token: `${b64url(JSON.stringify({ alg: 'RS256', kid: 'k1' }))}.${b64url(rng.pick(['[', '123', 'true', '"s"', rng.word(30)]))}.${rng.word(40)}`,
      };
    case 26:
      return {
        label: 'segments not base64url',
        token: `${rng.text(20, PRINTABLE.replace(/[;,"\\ ]/g, ''))}.${rng.text(20, '!@$%^*()~`')}.${rng.word(20)}`,
      };
    case 27: {
      // kid values a naive implementation would use as a path, a URL or a query.
      const kid = rng.pick([
        '../../../../etc/passwd',
        'http://127.0.0.1:1/',
        "' OR 1=1 --",
        rng.word(5000),
        '',
        '\u0000',
      ]);
      return { label: 'odd kid', token: await signToken({ ...t.other, kid }, { claims }) };
    }
    case 28: {
      const tok = await good();
      return {
        // `==` after the signature: jose's decoder takes the padding, only the verifier's own check refuses it.
        label: 'valid token with garbage appended',
        token: `${tok}${rng.pick(['.', '..x', rng.word(3), '=', '==', '==', ' x'])}`,
      };
    }
    default: {
      const tok = await good();
      const [h, p, s] = tok.split('.');
      return {
        label: 'segments reordered',
        token: rng.pick([`${p}.${h}.${s}`, `${s}.${p}.${h}`, `${h}.${s}.${p}`]),
      };
    }
  }
}

/**
 * A JWT that does authenticate although it looks odd: odd groups claim, unicode subject, `typ` spelled
 * `application/JWT`, a far expiry, deeply nested JSON in a claim, a large (but allowed) size.
 */
async function oddValidToken(rng: Rng, t: Tokens): Promise<{ label: string; token: string; sub: string }> {
  const sub = `v${rng.word(10)}`;
  switch (rng.int(7)) {
    case 0:
      return {
        label: 'odd groups claim',
        sub,
        token: await t.valid(sub, {
          groups: rng.pick([{ a: 1 }, [1, null, 'x', ['y']], 'a,,b, ,c', 42, '']),
        }),
      };
    case 1: {
      const u = `${sub}${rng.pick(UNICODE.filter((c) => !/[\u200b\ufeff\u202e]/.test(c)))}`;
      return { label: 'unicode subject', sub: u, token: await t.valid(u) };
    }
    case 2:
      return {
        label: 'typ application/JWT',
        sub,
        token: await signToken(t.k1, {
          claims: { sub, iss: ISSUER, aud: 'postern', exp: epoch(3600) },
          header: { typ: 'application/JWT' },
        }),
      };
    case 3:
      return {
        label: 'exp in the far future',
        sub,
        token: await t.valid(sub, { exp: rng.pick([1e12, 1e300, 2 ** 53]) }),
      };
    case 4: {
      // 20k levels of array nesting in one claim: the payload is written by hand (JSON.stringify would recurse).
      const depth = 20_000;
      const payload = `{"sub":"${sub}","iss":"${ISSUER}","aud":"postern","exp":${epoch(3600)},"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      return { label: 'deeply nested claim', sub, token: await signRaw(t.k1, payload) };
    }
    case 5:
      return {
        label: 'large (30 KiB) but allowed',
        sub,
        token: await t.valid(sub, { pad: rng.word(30_000) }),
      };
    default:
      return {
        label: '__proto__ claim',
        sub,
        token: await t.valid(
          sub,
          JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}'),
        ),
      };
  }
}

/** An `Authorization` value that authenticates nobody, for the Basic-based topologies and in general. */
function badAuthorization(rng: Rng): {
  label: string;
  value: string | Buffer;
  secrets: string[];
  wellFormed?: boolean;
} {
  const user = rng.pick(['alice', 'bob', 'guest', 'admin', 'nobody', `u${rng.word(6)}`]);
  const pw = `pw${rng.word(14)}`;
  switch (rng.int(22)) {
    case 0:
      return {
        label: 'Basic alone',
        value: rng.pick(['Basic', 'Basic ', 'basic', 'BASIC  ', 'Basic\t']),
        secrets: [],
      };
    case 1: {
      const junk = rng.text(rng.between(1, 200), PRINTABLE);
      return {
        label: 'Basic with text that is not base64',
        value: `Basic ${junk}`,
        secrets: trackable(junk) ? [junk] : [],
      };
    }
    case 2: {
      const enc = b64(rng.bytes(rng.between(1, 300)));
      return {
        label: 'Basic with base64 of random bytes',
        value: `Basic ${enc}`,
        secrets: trackable(enc) ? [enc] : [],
      };
    }
    case 3: {
      const enc = b64(pw);
      return { label: 'Basic without a colon', value: `Basic ${enc}`, secrets: [pw, enc] };
    }
    case 4: {
      const enc = b64(`:${pw}`);
      return { label: 'Basic with an empty user', value: `Basic ${enc}`, secrets: [pw, enc] };
    }
    case 5:
      return {
        label: 'Basic with an empty password',
        value: `Basic ${b64(`${user}:`)}`,
        secrets: [],
        wellFormed: true,
      };
    case 6: {
      const enc = b64(`${user}:${pw}`);
      return {
        label: 'Basic with a wrong password',
        value: `Basic ${enc}`,
        secrets: [pw, enc],
        wellFormed: true,
      };
    }
    case 7: {
      const enc = b64(`${user}:${pw}${rng.word(rng.between(10_000, 90_000))}`);
      return { label: 'Basic, huge', value: `Basic ${enc}`, secrets: [pw] };
    }
    case 8: {
      const enc = b64(`${rng.pick(['ali\u0000ce', 'alice\n', '\u0007', 'a\u001bb', 'x\u007f'])}:${pw}`);
      return {
        label: 'Basic with a control character in the user',
        value: `Basic ${enc}`,
        secrets: [pw, enc],
      };
    }
    case 9: {
      const enc = b64(`${rng.pick(UNICODE)}${user}${rng.pick(UNICODE)}:${pw}${rng.pick(UNICODE)}`);
      return { label: 'Basic with unicode', value: `Basic ${enc}`, secrets: [pw, enc], wellFormed: true };
    }
    case 10: {
      const enc = b64(`${user}:${pw}`);
      const broken = rng.pick([
        `${enc}===`,
        `=${enc}`,
        `${enc.slice(0, -1)}!`,
        `${enc} ${enc}`,
        enc.replaceAll('=', '%3D'),
        `${enc}\t${rng.word(3)}`,
      ]);
      return { label: 'Basic with broken padding or extra parts', value: `Basic ${broken}`, secrets: [pw] };
    }
    case 11: {
      // LDAP DN and filter metacharacters in the user: escaped, never a wider search or another entry.
      const evil = rng.pick([
        '*',
        'admin)(uid=*',
        '*)(|(uid=*',
        'uid=admin,ou=people',
        'admin\\2a',
        'guest,ou=people,dc=hadoop',
        '#admin',
        ' admin',
        'admin ',
        '\\',
        'a+b',
        'x<y>',
        'a;b',
        '"quoted"',
        '(&)',
        `${'a'.repeat(5000)}`,
      ]);
      const enc = b64(`${evil}:${pw}`);
      return {
        label: 'Basic with LDAP metacharacters in the user',
        value: `Basic ${enc}`,
        secrets: [pw, enc],
        wellFormed: true,
      };
    }
    case 12: {
      const enc = b64(`${user}:${pw}`);
      return {
        label: 'Basic with many spaces inside',
        value: `Basic${' '.repeat(rng.between(2, 2000))}${enc.slice(0, 4)} ${enc.slice(4)}`,
        secrets: [pw],
      };
    }
    case 13: {
      // Control characters and NUL in the header itself: the HTTP parser refuses them (400).
      const enc = b64(`${user}:${pw}`);
      const c = rng.pick([...CONTROL]);
      return {
        label: 'NUL or control character in the header',
        value: `Basic ${enc.slice(0, 3)}${c}${enc.slice(3)}`,
        secrets: [pw],
      };
    }
    case 14: {
      // Raw UTF-8 / Latin-1 bytes in the header value.
      const enc = b64(`${user}:${pw}`);
      return {
        label: 'raw non-ASCII bytes in the header',
        value: Buffer.concat([
          Buffer.from(`Basic ${enc}`),
          rng.bytes(rng.between(1, 8)).map((b) => b | 0x80),
        ]),
        secrets: [pw],
      };
    }
    case 15:
      return {
        label: 'Bearer alone or empty',
        value: rng.pick(['Bearer', 'Bearer ', 'bearer', 'Bearer     ', 'Bearer\t']),
        secrets: [],
      };
    case 16: {
      const tok = rng.text(rng.between(1, 500), `${B64URL}.`);
      return { label: 'Bearer garbage', value: `Bearer ${tok}`, secrets: trackable(tok) ? [tok] : [] };
    }
    case 17: {
      const tok = rng.word(rng.between(64 * 1024, 200 * 1024));
      return { label: 'Bearer, huge', value: `Bearer ${tok}`, secrets: [tok.slice(0, 64)] };
    }
    case 18: {
      const secret = rng.word(20);
      return {
        label: 'other schemes',
        value: `${rng.pick(['Negotiate', 'Digest', 'NTLM', 'Token', 'AWS4-HMAC-SHA256', 'Hoba', 'X'])} ${secret}`,
        secrets: [secret],
      };
    }
    case 19:
      return { label: 'empty or blank', value: rng.pick(['', ' ', '\t', ',', ';']), secrets: [] };
    case 20: {
      const enc = b64(`Passcode:${pw}`);
      return {
        label: 'Basic Passcode (server-managed tokens, not supported)',
        value: `Basic ${enc}`,
        secrets: [pw, enc],
      };
    }
    default: {
      const enc = b64(`${user}:${pw}`);
      return {
        label: 'scheme misspelt',
        value: `${rng.pick(['Basci', 'Basic:', 'Basic=', 'Base', 'B asic', 'Basic,'])} ${enc}`,
        secrets: [pw, enc],
      };
    }
  }
}

const basicOf = (user: string, pw: string) => `Basic ${b64(`${user}:${pw}`)}`;

/** A request for the topology's echo path, numbered so a failure can be found in the logs. */
function target(n: number, query = ''): string {
  return `/http/fuzz/${n}${query ? `?${query}` : ''}`;
}

/** A random query value: printable text, percent-escapes valid and not, unicode; never naming alice or bob. */
function oddQueryValue(rng: Rng): string {
  const parts = ['x', rng.text(rng.between(0, 20), `${ALNUM}-._~!$'()*,;:@/?`)];
  if (rng.chance(0.3))
    parts.push(rng.pick(['%00', '%ZZ', '%', '%2', '%2F..%2F', '%E2%80%AE', '%C0%AF', '%ff%fe', '+', '%20']));
  if (rng.chance(0.2)) parts.push(encodeURIComponent(rng.pick(UNICODE)));
  if (rng.chance(0.1)) parts.push(rng.pick(UNICODE));
  return parts.join('');
}

/**
 * A case, sent as a WebSocket upgrade about one time in six when it is a GET: upgrades run the same chain, and
 * must get the same answers (a 101 where HTTP would get a 200).
 */
async function makeCase(rng: Rng, n: number, w: World): Promise<Case> {
  const c = await makeHttpCase(rng, n, w);
  if (c.method !== 'GET' || !c.target.startsWith('/http/') || !rng.chance(0.17)) return c;
  return {
    ...c,
    label: `${c.label} (upgrade)`,
    target: c.target.replace('/http/', '/echo/ws/'),
    expect: c.expect.map((s) => (s === 200 ? 101 : s)),
    upgrade: true,
  };
}

async function makeHttpCase(rng: Rng, n: number, w: World): Promise<Case> {
  const t = w.tokens;
  const kind = rng.int(100);

  // 0–29: Authorization headers against every topology.
  if (kind < 30) {
    const topology = rng.pick([
      'file',
      'ldap',
      'ldapsearch',
      'jwt',
      'sso',
      'preauth',
      'websec',
      'ldap',
      'jwt',
    ]);
    const bad = badAuthorization(rng);
    // An unknown user in the file realm costs a full scrypt (the decoy hash): keep those few.
    if (topology === 'file' && bad.wellFormed && rng.chance(0.7)) return makeHttpCase(rng, n, w);
    const headers: [string, string | Buffer][] = [['Authorization', bad.value]];
    if (rng.chance(0.1)) {
      // Repeated: the first one counts, a valid one after it must not rescue the request.
      const valid: Record<string, string> = {
        file: basicOf('alice', ALICE_PASSWORD),
        ldap: basicOf('guest', 'guest-password'),
        ldapsearch: basicOf('carol', 'carol-password'),
        jwt: `Bearer ${await t.valid('repeat')}`,
      };
      const v = valid[topology];
      if (v) headers.push(['Authorization', v]);
      return {
        label: `repeated Authorization, first: ${bad.label}`,
        topology,
        method: 'GET',
        target: target(n),
        headers,
        expect: REFUSED,
        secrets: bad.secrets,
      };
    }
    return {
      label: `Authorization: ${bad.label}`,
      topology,
      method: rng.pick(['GET', 'GET', 'HEAD', 'DELETE']),
      target: target(n),
      headers,
      expect: REFUSED,
      secrets: bad.secrets,
    };
  }

  // 30–54: JWTs, bad ones and odd valid ones, in every place the JWT providers look.
  if (kind < 55) {
    const topology = rng.chance(0.65) ? 'jwt' : 'sso';
    if (rng.chance(0.2)) {
      const good = await oddValidToken(rng, t);
      // Basic credentials are read up to 8 KiB of base64 (credentials.ts): a longer token goes elsewhere.
      const places =
        good.token.length > 6000 ? ['bearer', 'query', 'cookie'] : ['bearer', 'basic', 'query', 'cookie'];
      const where = topology === 'sso' ? 'cookie' : rng.pick(places);
      const c = placeToken(n, topology, where, good.token);
      return {
        ...c,
        label: `valid JWT (${good.label}) in ${where}`,
        expect: [200],
        user: good.sub,
        secrets: [good.token, good.token.split('.')[2]],
      };
    }
    const bad = await badToken(rng, t);
    const where = topology === 'sso' ? 'cookie' : rng.pick(['bearer', 'bearer', 'basic', 'query', 'cookie']);
    const c = placeToken(n, topology, where, bad.token);
    const secrets = [bad.token, bad.token.split('.')[2] ?? ''].filter(trackable);
    const refusedHere = !(bad.audienceOnly && topology === 'sso');
    return {
      ...c,
      label: `JWT ${bad.label} in ${where}`,
      expect: refusedHere ? REFUSED : [200],
      secrets,
      ...(refusedHere
        ? {}
        : { user: JSON.parse(Buffer.from(bad.token.split('.')[1], 'base64url').toString()).sub }),
    };
  }

  // 55–69: cookies.
  if (kind < 70) return cookieCase(rng, n, w);

  // 70–79: pre-authenticated user headers.
  if (kind < 80) return preauthCase(rng, n);

  // 80–89: doAs / user.name in the query.
  if (kind < 90) return queryCase(rng, n, w);

  // 90–99: WebAppSec (CSRF, CORS) in front of HeaderPreAuth.
  return websecCase(rng, n);
}

function placeToken(
  n: number,
  topology: string,
  where: string,
  token: string,
): Omit<Case, 'label' | 'expect' | 'secrets'> {
  const base = { topology, method: 'GET', target: target(n) };
  switch (where) {
    case 'bearer':
      return { ...base, headers: [['Authorization', `Bearer ${token}`]] };
    case 'basic':
      return {
        ...base,
        headers: [['Authorization', `Basic ${b64(`${n % 2 ? 'Token' : 'TOKEN'}:${token}`)}`]],
      };
    case 'query':
      return { ...base, target: target(n, `a=1&knoxtoken=${encodeURIComponent(token)}`), headers: [] };
    default:
      return { ...base, headers: [['Cookie', `other=1; hadoop-jwt=${token}`]] };
  }
}

async function cookieCase(rng: Rng, n: number, w: World): Promise<Case> {
  const t = w.tokens;
  const junk = () =>
    rng.pick([
      rng.word(43),
      rng.text(rng.between(0, 80), `${ALNUM}-_=+/%`),
      `"${rng.word(43)}"`,
      '""',
      '"',
      rng.word(20_000),
      '=',
      '==x',
    ]);
  switch (rng.int(7)) {
    case 0: {
      // A session cookie that is not a session: unknown, quoted, empty, huge.
      const topology = rng.pick(['file', 'ldap', 'ldapsearch']);
      const v = junk();
      return {
        label: 'KNOXSESSIONID garbage',
        topology,
        method: 'GET',
        target: target(n),
        headers: [['Cookie', `KNOXSESSIONID=${v}`]],
        expect: REFUSED,
        secrets: [v.replaceAll('"', '')].filter(trackable),
      };
    }
    case 1: {
      // A real session of one topology is nobody in another; the first of duplicates counts.
      const first = rng.pick(['junk', 'other']);
      const v = first === 'junk' ? rng.word(43) : w.sessions.ldap;
      return {
        label: `KNOXSESSIONID duplicated, first ${first}`,
        topology: 'file',
        method: 'GET',
        target: target(n),
        headers: [['Cookie', `KNOXSESSIONID=${v}; KNOXSESSIONID=${w.sessions.file}`]],
        expect: REFUSED,
        secrets: [v, w.sessions.file],
      };
    }
    case 2: {
      // A garbage session cookie with valid Basic credentials: Basic logs in.
      return {
        label: 'KNOXSESSIONID garbage with valid Basic',
        topology: 'file',
        method: 'GET',
        target: target(n),
        headers: [
          ['Cookie', `KNOXSESSIONID=${rng.word(43)}`],
          ['Authorization', basicOf('alice', ALICE_PASSWORD)],
        ],
        expect: [200],
        user: 'alice',
        secrets: [ALICE_PASSWORD],
      };
    }
    case 3: {
      const topology = rng.pick(['jwt', 'sso']);
      const values = Array.from({ length: rng.between(1, 12) }, junk);
      const sep = rng.pick(['; ', ';', ' ; ', ';;']);
      const headers: [string, string][] = rng.chance(0.3)
        ? values.map((v) => ['Cookie', `hadoop-jwt=${v}`])
        : [['Cookie', values.map((v) => `hadoop-jwt=${v}`).join(sep)]];
      return {
        label: 'hadoop-jwt garbage (one or many, one header or several)',
        topology,
        method: 'GET',
        target: target(n),
        headers,
        expect: REFUSED,
        secrets: values.map((v) => v.replaceAll('"', '')).filter(trackable),
      };
    }
    case 4: {
      // Garbage cookies before a valid one: it is found among the first eight, and only there.
      const topology = rng.pick(['jwt', 'sso']);
      const sub = `c${rng.word(8)}`;
      const token = await t.valid(sub);
      const before = rng.between(0, 10);
      const quoted = rng.chance(0.3);
      const list = [
        ...Array.from({ length: before }, () => `hadoop-jwt=${rng.word(30)}`),
        `hadoop-jwt=${quoted ? `"${token}"` : token}`,
      ];
      const found = before < 8;
      return {
        label: `valid hadoop-jwt after ${before} garbage ones${quoted ? ', quoted' : ''}`,
        topology,
        method: 'GET',
        target: target(n),
        headers: [['Cookie', list.join('; ')]],
        expect: found ? [200] : REFUSED,
        ...(found ? { user: sub } : {}),
        secrets: [token],
      };
    }
    case 5: {
      // Cookie syntax gone wrong.
      const topology = rng.pick(['file', 'jwt', 'sso', 'ldap']);
      const v = rng.pick([
        ';;;;',
        '=',
        '==',
        'hadoop-jwt',
        'KNOXSESSIONID',
        ' = ; = ',
        `hadoop-jwt ${rng.word(20)}`,
        `${rng.pick(UNICODE)}=${rng.word(10)}`,
        `KNOXSESSIONID=${rng.pick(UNICODE)}`,
        'a=b'.repeat(3000),
      ]);
      return {
        label: 'malformed Cookie header',
        topology,
        method: 'GET',
        target: target(n),
        headers: [['Cookie', v]],
        expect: REFUSED,
        secrets: [],
      };
    }
    default: {
      // A valid JWT cookie while a garbage bearer is sent (the cookie wins), and the other way round (refused).
      const sub = `m${rng.word(8)}`;
      const token = await t.valid(sub);
      const junkToken = rng.word(40);
      if (rng.chance(0.5)) {
        return {
          label: 'valid cookie with garbage bearer',
          topology: 'jwt',
          method: 'GET',
          target: target(n),
          headers: [
            ['Cookie', `hadoop-jwt=${token}`],
            ['Authorization', `Bearer ${junkToken}`],
          ],
          expect: [200],
          user: sub,
          secrets: [token, junkToken],
        };
      }
      return {
        label: 'garbage cookie with valid bearer',
        topology: 'jwt',
        method: 'GET',
        target: target(n),
        headers: [
          ['Cookie', `hadoop-jwt=${junkToken}`],
          ['Authorization', `Bearer ${token}`],
        ],
        expect: REFUSED,
        secrets: [token, junkToken],
      };
    }
  }
}

/** HeaderPreAuth with IP validation (127.0.0.1 only) and an ACL that needs the group `analyst`. */
function preauthCase(rng: Rng, n: number): Case {
  const name = rng.pick([
    `p${rng.word(8)}`,
    `${rng.pick(UNICODE)}${rng.word(4)}`,
    rng.text(rng.between(1, 60), PRINTABLE.replace(/[\\"]/g, '')),
    `admin${' '.repeat(rng.between(1, 5))}`,
    rng.word(rng.between(1000, 2000)),
    `a\tb`,
  ]);
  const groups = rng.chance(0.6)
    ? rng.pick(['analyst', 'x, analyst', ',,analyst,,', ' analyst ', 'ANALYST', 'analyst2', '', ',', 'admin'])
    : undefined;
  const form = rng.int(6);
  const headers: [string, string | Buffer][] = [];
  let label: string;
  let expect: readonly number[];
  const from = rng.chance(0.15) ? '127.0.0.2' : '127.0.0.1';
  const inAnalyst = groups?.split(',').some((g) => g.trim() === 'analyst') ?? false;
  const trimmed = name.replace(/^[ \t]+|[ \t]+$/g, '');
  const decided = (): readonly number[] => {
    if (trimmed === '') return REFUSED;
    if (from !== '127.0.0.1') return [403];
    return inAnalyst ? [200] : [403];
  };
  if (form === 0) {
    label = 'no SM_USER';
    expect = REFUSED;
  } else if (form === 1) {
    headers.push(['SM_USER', name], ['SM_USER', `${name}x`]);
    label = 'SM_USER repeated';
    expect = REFUSED;
  } else if (form === 2) {
    headers.push(['SM_USER', rng.pick(['', ' ', '\t', '  \t '])]);
    label = 'SM_USER blank';
    expect = REFUSED;
  } else if (form === 3) {
    headers.push(['SM_USER', `${name.slice(0, 3)}${rng.pick([...CONTROL])}${name.slice(3)}`]);
    label = 'SM_USER with a control character';
    expect = [400];
  } else {
    headers.push([rng.pick(['SM_USER', 'sm_user', 'Sm_User']), name]);
    label = 'SM_USER odd value';
    expect = decided();
  }
  if (groups !== undefined) headers.push(['SM_GROUPS', groups]);
  // A client's own identity on the wire is never the asserted one, and its own say on where it comes from is
  // not its address.
  if (rng.chance(0.3))
    headers.push(['X-Knox-Actor-ID', 'admin'], ['Authorization', basicOf('admin', 'admin-password')]);
  if (rng.chance(0.3))
    headers.push(
      ['X-Forwarded-For', '127.0.0.1'],
      ['X-Real-IP', '127.0.0.1'],
      ['Forwarded', 'for=127.0.0.1'],
    );
  const ok = expect.length === 1 && expect[0] === 200;
  return {
    label: `${label}${groups !== undefined ? ' with groups' : ''} from ${from}`,
    topology: 'preauth',
    method: 'GET',
    target: target(n),
    headers,
    from,
    expect,
    // Node reads header bytes as Latin-1: the name the gateway sees is the UTF-8 bytes read that way.
    ...(ok && /^[\x21-\x7e]+$/.test(trimmed) ? { user: trimmed } : {}),
    secrets: [],
  };
}

/** Impersonation and identity parameters in the query. */
async function queryCase(rng: Rng, n: number, w: World): Promise<Case> {
  const c = await queryCaseOf(rng, n, w);
  // A raw non-ASCII byte in the request target is refused by the HTTP parser before any provider runs.
  return /[^\x21-\x7e]/.test(c.target)
    ? { ...c, label: `${c.label}, raw non-ASCII`, expect: [400], user: undefined }
    : c;
}

async function queryCaseOf(rng: Rng, n: number, w: World): Promise<Case> {
  const v = oddQueryValue(rng);
  switch (rng.int(6)) {
    case 0:
      // alice may impersonate bob only: any other doAs is 403, an empty one 400.
      return {
        label: 'doAs odd value, alice authenticated',
        topology: 'file',
        method: 'GET',
        target: target(n, `${rng.pick(['doAs', 'DOAS', 'doas', 'do%41s'])}=${v}`),
        headers: [['Authorization', basicOf('alice', ALICE_PASSWORD)]],
        expect: [400, 403],
        secrets: [ALICE_PASSWORD],
      };
    case 1:
      return {
        label: 'doAs empty or conflicting',
        topology: 'file',
        method: 'GET',
        target: target(
          n,
          rng.pick(['doAs=', 'doAs', 'doAs=bob&doAs=eve', 'doAs=bob&DOAS=alice', 'doAs=&doAs=']),
        ),
        headers: [['Cookie', `KNOXSESSIONID=${w.sessions.file}`]],
        expect: [400],
        secrets: [w.sessions.file],
      };
    case 2:
      return {
        label: 'doAs=bob by alice (allowed)',
        topology: 'file',
        method: 'GET',
        target: target(n, `x=${encodeURIComponent(v)}&doAs=bob`),
        headers: [['Authorization', basicOf('alice', ALICE_PASSWORD)]],
        expect: [200],
        user: 'bob',
        secrets: [ALICE_PASSWORD],
      };
    case 3:
      return {
        label: 'doAs by bob (no proxy-user rights)',
        topology: 'file',
        method: 'GET',
        target: target(n, `doAs=${rng.pick(['alice', 'admin', v])}`),
        headers: [['Authorization', basicOf('bob', BOB_PASSWORD)]],
        expect: [400, 403],
        secrets: [BOB_PASSWORD],
      };
    case 4: {
      // No impersonation configured: doAs and user.name from the client are removed, the user is the one
      // authenticated.
      const topology = rng.pick(['ldap', 'jwt', 'preauth']);
      const sub = `q${rng.word(8)}`;
      const token = await w.tokens.valid(sub);
      const auth: Record<string, [string, string][]> = {
        ldap: [['Authorization', basicOf('guest', 'guest-password')]],
        jwt: [['Authorization', `Bearer ${token}`]],
        preauth: [
          ['SM_USER', sub],
          ['SM_GROUPS', 'analyst'],
        ],
      };
      const user = topology === 'ldap' ? 'guest' : sub;
      const spoof = rng.pick([
        'user.name=admin',
        'doAs=admin',
        'USER.NAME=admin&doas=admin',
        `user.name=${v}`,
        'user%2Ename=admin',
        'doAs=admin&doAs=root',
      ]);
      return {
        label: `client doAs/user.name removed (${topology})`,
        topology,
        method: 'GET',
        target: target(n, spoof),
        headers: auth[topology],
        expect: [200],
        user,
        secrets: topology === 'ldap' ? ['guest-password'] : topology === 'jwt' ? [token] : [],
      };
    }
    default:
      // Unauthenticated requests with identity in the query: the query never authenticates.
      return {
        label: 'identity in the query only',
        topology: rng.pick(['file', 'ldap', 'jwt', 'sso', 'preauth']),
        method: 'GET',
        target: target(
          n,
          rng.pick([
            `user.name=${v}`,
            `doAs=${v}`,
            'user.name=alice&doAs=alice',
            `knoxtoken=${rng.word(30)}`,
            'knoxtoken=',
            'knoxtoken',
          ]),
        ),
        headers: [],
        expect: REFUSED,
        secrets: [],
      };
  }
}

const APP = 'https://app.example.com';

/** WebAppSec (CORS allowing APP, CSRF) in front of HeaderPreAuth without validation. */
function websecCase(rng: Rng, n: number): Case {
  const user = `w${rng.word(6)}`;
  const auth: [string, string][] = rng.chance(0.8) ? [['SM_USER', user]] : [];
  const authed = auth.length > 0;
  const badOrigin = rng.pick([
    'https://evil.example',
    'null',
    rng.text(rng.between(1, 40), PRINTABLE.replace(/[\\"]/g, '')),
    `${APP}.evil.example`,
    `${APP}:444`,
    `http://app.example.com`,
    `${APP}/path`,
    `https://user:pw@app.example.com`,
    `${APP}?x`,
    'file://',
    `https://${rng.pick(UNICODE)}.example`,
  ]);
  switch (rng.int(6)) {
    case 0:
      return {
        label: 'cross-origin GET from an origin not allowed',
        topology: 'websec',
        method: 'GET',
        target: target(n),
        headers: [['Origin', badOrigin], ...auth],
        expect: [403],
        secrets: [],
      };
    case 1:
      return {
        label: 'POST without the CSRF header',
        topology: 'websec',
        method: 'POST',
        target: target(n),
        headers: [['Content-Length', '0'], ...auth],
        expect: [400],
        secrets: [],
      };
    case 2:
      return {
        label: 'POST with the CSRF header (any value)',
        topology: 'websec',
        method: 'POST',
        target: target(n),
        headers: [['Content-Length', '0'], ['X-XSRF-Header', rng.pick(['', '1', rng.word(30)])], ...auth],
        expect: authed ? [200] : REFUSED,
        ...(authed ? { user } : {}),
        secrets: [],
      };
    case 3: {
      // Preflights are answered by the gateway: allowed → 204, a method it does not support → 405, an origin
      // it does not allow → 403, a malformed request-method → 400.
      const method = rng.pick(['GET', 'POST', 'PUT', 'TRACE', rng.word(5), '', 'G E T']);
      const allowedOrigin = rng.chance(0.6);
      const supported = ['GET', 'POST', 'HEAD', 'OPTIONS'].includes(method);
      const expect = !allowedOrigin ? [403] : supported ? [204] : [400, 405];
      return {
        label: `preflight for ${allowedOrigin ? 'an allowed' : 'a refused'} origin`,
        topology: 'websec',
        method: 'OPTIONS',
        target: target(n),
        headers: [
          ['Origin', allowedOrigin ? APP : badOrigin],
          ['Access-Control-Request-Method', method],
          ...(rng.chance(0.3)
            ? [
                [
                  'Access-Control-Request-Headers',
                  rng.pick(['x-a, x-b', ',,', rng.text(20, PRINTABLE.replace(/[\\"]/g, ''))]),
                ] as [string, string],
              ]
            : []),
        ],
        // A preflight from a refused origin, or with a malformed header, is refused before anything else.
        expect: expect.includes(204) || expect.includes(403) ? [...expect, 400] : expect,
        secrets: [],
      };
    }
    case 4:
      return {
        label: 'allowed origin',
        topology: 'websec',
        method: rng.pick(['GET', 'HEAD']),
        target: target(n),
        headers: [['Origin', APP], ...auth],
        expect: authed ? [200] : REFUSED,
        ...(authed ? { user } : {}),
        secrets: [],
      };
    default:
      return {
        label: 'Origin with a control character',
        topology: 'websec',
        method: 'GET',
        target: target(n),
        headers: [['Origin', `${APP}${rng.pick([...CONTROL])}`], ...auth],
        expect: [400],
        secrets: [],
      };
  }
}

// ---------------------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: writes exactly the bytes of the case.

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function requestBytes(port: number, c: Case): Buffer {
  const parts: Buffer[] = [
    Buffer.from(
      `${c.method} /gateway/${c.topology}${c.target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`,
      // As a client writes it: UTF-8 (a raw non-ASCII character in the target is then refused by the parser).
      'utf8',
    ),
  ];
  for (const [name, value] of c.headers) {
    parts.push(
      Buffer.from(`${name}: `, 'latin1'),
      typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
      Buffer.from('\r\n'),
    );
  }
  parts.push(
    Buffer.from(
      c.upgrade
        ? `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${b64(c.target.padEnd(16).slice(-16))}\r\n\r\n`
        : 'Connection: close\r\n\r\n',
    ),
  );
  return Buffer.concat(parts);
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < body.length) {
    const eol = body.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = Number.parseInt(body.subarray(i, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(body.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

function parseAnswer(raw: Buffer): RawAnswer | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  return { status: Number(m[1]), headers, body };
}

function send(port: number, c: Case): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: c.from });
    const chunks: Buffer[] = [];
    let failed: Error | undefined;
    const timer = setTimeout(() => {
      failed = new Error(`no answer within ${DEADLINE_MS} ms`);
      socket.destroy();
    }, DEADLINE_MS);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      // An accepted upgrade stays open: its 101 is the whole answer.
      if (c.upgrade && parseAnswer(Buffer.concat(chunks))?.status === 101) socket.destroy();
    });
    // A gateway that refuses early (before reading all the input) may reset the connection: what it wrote
    // before that still counts.
    socket.on('error', (err) => {
      failed ??= err;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const answer = parseAnswer(Buffer.concat(chunks));
      if (answer) resolve(answer);
      else reject(failed ?? new Error('the connection closed without an answer'));
    });
    socket.write(requestBytes(port, c));
  });
}

// ---------------------------------------------------------------------------------------------------------

/** The user the backend saw: the `user.name` (or `doAs`) of the URL it was asked for. */
function assertedUser(body: Buffer): string | undefined {
  const echo = JSON.parse(body.toString('utf8')) as { url: string };
  const query = new URL(echo.url, 'http://x').searchParams;
  return query.get('user.name') ?? query.get('doAs') ?? undefined;
}

describe('fuzzing the security providers through the gateway', () => {
  let home: TestHome;
  let gateway: Gateway;
  let ldap: SlapdFixture;
  let jwks: JwksServer;
  let backend: Backend;
  let log: Logger;
  let port: number;
  let world: World;
  const sent: Case[] = [];
  /** Backend WebSocket handshakes by path (`/fuzz/{n}`): URL and headers, as JSON. */
  const handshakes = new Map<string, string>();

  before(async () => {
    const [k1, other, attacker, es] = await Promise.all([
      makeKey('k1'),
      makeKey('k2'),
      makeKey('attacker'),
      makeKey('es', 'ES256'),
    ]);
    [ldap, jwks, backend] = await Promise.all([
      startSlapd(),
      startJwks([k1]),
      startBackend((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
        });
      }),
    ]);
    // The same backend takes WebSocket upgrades (ECHOWS), and records each handshake by its path.
    const wss = new WebSocketServer({ noServer: true });
    backend.server.on('upgrade', (req, socket, head) => {
      handshakes.set(
        new URL(req.url ?? '/', 'http://backend').pathname,
        JSON.stringify({ url: req.url, headers: req.headers }),
      );
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('error', () => {}));
    });
    home = makeHome({
      'gateway.httpserver.requestHeaderBuffer': 1024 * 1024,
      'gateway.websocket.feature.enabled': true,
      // 3000 hostile credentials from one address are what the login throttle refuses; this fuzz is about how
      // each one is parsed and answered, so the throttle (login-throttle.test.ts) is off here.
      'postern.auth.failures.per.address': 0,
      'postern.auth.failures.per.user': 0,
      'postern.auth.verify.rate.per.address': 0,
    });
    const hashes = await Promise.all(
      [ALICE_PASSWORD, BOB_PASSWORD].map((p) => hashPassword(p, { ln: 10, r: 8, p: 1 })),
    );
    home.write(
      'conf/users.yaml',
      `users:\n  alice:\n    password: "${hashes[0]}"\n    groups: [analyst]\n  bob:\n    password: "${hashes[1]}"\n`,
    );
    const http = [
      { role: 'HTTP', urls: [backend.url] },
      { role: 'ECHOWS', urls: [backend.url.replace(/^http/, 'ws')] },
    ];
    const xml = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
    const escaped = (params: Record<string, string>) =>
      Object.fromEntries(Object.entries(params).map(([k, v]) => [k, xml(v)]));
    const write = (name: string, providers: Parameters<typeof topologyXml>[0]['providers']) =>
      home.write(`conf/topologies/${name}.xml`, topologyXml({ providers, services: http }));

    write('file', [
      {
        role: 'authentication',
        name: 'ShiroProvider',
        params: {
          'main.fileRealm': 'postern.FileRealm',
          'main.fileRealm.usersFile': 'conf/users.yaml',
          'urls./**': 'authcBasic',
        },
      },
      {
        role: 'identity-assertion',
        name: 'Default',
        params: {
          'hadoop.proxyuser.impersonation.enabled': 'true',
          'hadoop.proxyuser.alice.users': 'bob',
          'hadoop.proxyuser.alice.hosts': '*',
        },
      },
    ]);
    write('ldap', [
      {
        role: 'authentication',
        name: 'ShiroProvider',
        params: {
          'main.ldapRealm': 'org.apache.knox.gateway.shirorealm.KnoxLdapRealm',
          'main.ldapRealm.userDnTemplate': `uid={0},${PEOPLE_DN}`,
          'main.ldapRealm.contextFactory.url': ldap.url,
          'main.ldapRealm.authenticationCachingEnabled': 'true',
          'main.cacheManager': 'org.apache.knox.gateway.shirorealm.KnoxCacheManager',
          'main.securityManager.cacheManager': '$cacheManager',
          'urls./**': 'authcBasic',
        },
      },
      { role: 'identity-assertion', name: 'Default' },
      {
        role: 'authorization',
        name: 'AclsAuthz',
        params: { 'http.acl': 'guest,sam;*;*', 'echows.acl': 'guest,sam;*;*' },
      },
    ]);
    write('ldapsearch', [
      { role: 'authentication', name: 'ShiroProvider', params: escaped(searchParams(ldap)) },
      { role: 'identity-assertion', name: 'Default' },
    ]);
    const tokenParams = { 'jwt.expected.issuer': ISSUER };
    write('jwt', [
      {
        role: 'federation',
        name: 'JWTProvider',
        params: {
          ...tokenParams,
          'knox.token.jwks.url': jwks.url,
          'knox.token.audiences': 'postern',
          'knox.token.query.param.name': 'knoxtoken',
          'knox.token.use.cookie': 'true',
        },
      },
    ]);
    write('sso', [
      {
        role: 'federation',
        name: 'SSOCookieProvider',
        params: { ...tokenParams, 'sso.token.verification.jwks.urls': jwks.url },
      },
    ]);
    write('preauth', [
      {
        role: 'federation',
        name: 'HeaderPreAuth',
        params: {
          'preauth.custom.group.header': 'SM_GROUPS',
          'preauth.validation.method': 'preauth.ip.validation',
          'preauth.ip.addresses': '127.0.0.1',
        },
      },
      { role: 'identity-assertion', name: 'Default' },
      {
        role: 'authorization',
        name: 'AclsAuthz',
        params: { 'http.acl': '*;analyst;*', 'echows.acl': '*;analyst;*' },
      },
    ]);
    write('websec', [
      {
        role: 'webappsec',
        name: 'WebAppSec',
        params: { 'csrf.enabled': 'true', 'cors.enabled': 'true', 'cors.allowOrigin': APP },
      },
      { role: 'federation', name: 'HeaderPreAuth' },
    ]);

    // The production loggers, writing their files under the home: what an operator would read.
    const logDir = join(home.dir, 'logs');
    log = createLogger({ logDir, level: 'trace', stdout: false });
    gateway = await Gateway.start({
      home: home.dir,
      port: 0,
      host: '127.0.0.1',
      log,
      accessLog: createAccessLog({ logDir, level: 'info' }),
      audit: createAuditLog({ logDir, level: 'info' }),
      watch: false,
    });
    assert.deepEqual(
      [...gateway.server.deployments.keys()].sort(),
      ['file', 'jwt', 'ldap', 'ldapsearch', 'preauth', 'sso', 'websec'],
      'every topology deployed',
    );
    port = Number(new URL(gateway.url).port);

    // Real sessions, to be replayed where they are not valid.
    const login = async (topology: string, authorization: string): Promise<string> => {
      const answer = await send(port, {
        label: 'login',
        topology,
        method: 'GET',
        target: '/http/login',
        headers: [['Authorization', authorization]],
        expect: [200],
        secrets: [],
      });
      assert.equal(answer.status, 200);
      const m = /KNOXSESSIONID=([^;]+)/.exec(answer.headers['set-cookie'] ?? '');
      assert.ok(m, 'a session cookie was set');
      return m[1];
    };
    const publicPem = k1.spki;
    world = {
      sessions: {
        file: await login('file', basicOf('alice', ALICE_PASSWORD)),
        ldap: await login('ldap', basicOf('guest', 'guest-password')),
      },
      tokens: {
        k1,
        other,
        attacker,
        es,
        publicPem,
        valid: (sub, claims = {}) =>
          signToken(k1, { claims: { sub, iss: ISSUER, aud: 'postern', exp: epoch(3600), ...claims } }),
      },
    };
  });

  after(async () => {
    await gateway?.close();
    await Promise.allSettled([backend?.close(), jwks?.close(), ldap?.close()]);
    // The loggers open their files asynchronously: removing the home under them would fail them at exit.
    const files = ['gateway.log', 'access.log', 'audit.log'].map((f) => join(home.dir, 'logs', f));
    for (let i = 0; i < 100 && !files.every((f) => existsSync(f)); i++)
      await new Promise((r) => setTimeout(r, 20));
    home?.remove();
  });

  it(`answers ${CASES} malformed, hostile and odd credentials with 400/401/403 (or 2xx when valid), never a 5xx or a hang`, {
    timeout: 300_000,
  }, async (t) => {
    t.diagnostic(`fuzz seed ${SEED} (POSTERN_FUZZ_SEED=${SEED} replays this run), ${CASES} cases`);
    const rng = new Rng(SEED);
    for (let n = 0; n < CASES; n++) sent.push(await makeCase(rng, n, world));

    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < sent.length) {
        const n = next++;
        const c = sent[n];
        let answer: RawAnswer;
        try {
          answer = await send(port, c);
        } catch (err) {
          failures.push(`#${n} ${c.topology} ${c.label}: ${(err as Error).message}`);
          continue;
        }
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (!c.expect.includes(answer.status)) {
          failures.push(
            `#${n} ${c.topology} ${c.label} ${JSON.stringify(c.target.slice(0, 80))}: ${answer.status}, expected ${c.expect.join('/')} — ${answer.body.toString('utf8').slice(0, 200)}`,
          );
          continue;
        }
        if (answer.status === 101) {
          const seen = handshakes.get(`/fuzz/${n}`);
          if (seen === undefined) {
            failures.push(`#${n} ${c.topology} ${c.label}: accepted, but the backend saw no handshake`);
            continue;
          }
          for (const s of c.secrets) {
            if (s && seen.includes(s))
              failures.push(`#${n} ${c.topology} ${c.label}: the backend received a credential of the input`);
          }
          const user = new URL(JSON.parse(seen).url, 'http://x').searchParams.get('user.name');
          if (c.user !== undefined && user !== c.user)
            failures.push(`#${n} ${c.topology} ${c.label}: the backend saw user ${user}, expected ${c.user}`);
        } else if (c.upgrade && handshakes.has(`/fuzz/${n}`)) {
          failures.push(
            `#${n} ${c.topology} ${c.label}: refused with ${answer.status} after the backend was contacted`,
          );
        }
        if (answer.status === 200 && c.method !== 'HEAD') {
          const seen = answer.body.toString('utf8');
          for (const s of c.secrets) {
            if (s && seen.includes(s))
              failures.push(`#${n} ${c.topology} ${c.label}: the backend received a credential of the input`);
          }
          if (c.user !== undefined && assertedUser(answer.body) !== c.user) {
            failures.push(
              `#${n} ${c.topology} ${c.label}: the backend saw user ${assertedUser(answer.body)}, expected ${c.user}`,
            );
          }
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    t.diagnostic(
      `answers: ${[...statuses]
        .sort(([a], [b]) => a - b)
        .map(([s, k]) => `${s}×${k}`)
        .join(' ')}`,
    );
    assert.deepEqual(failures.slice(0, 25), [], `seed ${SEED}: ${failures.length} unexpected answers`);
    // The run tried both sides: refusals, and valid inputs that got through.
    assert.ok((statuses.get(401) ?? 0) > CASES / 4, 'most inputs were refused as unauthenticated');
    assert.ok((statuses.get(200) ?? 0) > CASES / 50, 'some odd but valid inputs got through');
  });

  it('still serves valid requests on every topology afterwards', async () => {
    const valid: Case[] = [
      {
        label: 'file',
        topology: 'file',
        method: 'GET',
        target: '/http/fuzz-final',
        headers: [['Authorization', basicOf('alice', ALICE_PASSWORD)]],
        expect: [200],
        user: 'alice',
        secrets: [],
      },
      {
        label: 'ldap',
        topology: 'ldap',
        method: 'GET',
        target: '/http/fuzz-final',
        headers: [['Authorization', basicOf('sam', 'sam-password')]],
        expect: [200],
        user: 'sam',
        secrets: [],
      },
      {
        label: 'ldapsearch',
        topology: 'ldapsearch',
        method: 'GET',
        target: '/http/fuzz-final',
        headers: [['Authorization', basicOf('carol', 'carol-password')]],
        expect: [200],
        user: 'carol',
        secrets: [],
      },
      {
        label: 'jwt',
        topology: 'jwt',
        method: 'GET',
        target: '/http/fuzz-final',
        headers: [['Authorization', `Bearer ${await world.tokens.valid('final')}`]],
        expect: [200],
        user: 'final',
        secrets: [],
      },
      {
        label: 'sso',
        topology: 'sso',
        method: 'GET',
        target: '/http/fuzz-final',
        headers: [['Cookie', `hadoop-jwt=${await world.tokens.valid('final')}`]],
        expect: [200],
        user: 'final',
        secrets: [],
      },
      {
        label: 'preauth',
        topology: 'preauth',
        method: 'GET',
        target: '/http/fuzz-final',
        headers: [
          ['SM_USER', 'final'],
          ['SM_GROUPS', 'analyst'],
        ],
        expect: [200],
        user: 'final',
        secrets: [],
      },
      {
        label: 'websec',
        topology: 'websec',
        method: 'GET',
        target: '/http/fuzz-final',
        headers: [
          ['SM_USER', 'final'],
          ['Origin', APP],
        ],
        expect: [200],
        user: 'final',
        secrets: [],
      },
    ];
    for (const c of valid) {
      const answer = await send(port, c);
      assert.equal(answer.status, 200, c.label);
      assert.equal(assertedUser(answer.body), c.user, c.label);
    }
  });

  it('writes no password, token or cookie value of the inputs to its logs', async () => {
    assert.ok(sent.length > 0, 'the fuzz run went first');
    const logDir = join(home.dir, 'logs');
    const read = (file: string) => {
      try {
        return readFileSync(join(logDir, file), 'utf8');
      } catch {
        return '';
      }
    };
    // The loggers write asynchronously: wait for the lines of the last requests (and a marker) to land.
    log.info({ marker: 'fuzz-end' }, 'fuzz-end');
    const deadline = Date.now() + 10_000;
    while (
      !(
        read('gateway.log').includes('fuzz-end') &&
        read('access.log').includes('/gateway/websec/http/fuzz-final') &&
        read('audit.log').includes('"resource":"/http/fuzz-final"')
      )
    ) {
      assert.ok(Date.now() < deadline, 'the log files were written');
      await new Promise((r) => setTimeout(r, 50));
    }
    const logs = {
      'gateway.log': read('gateway.log'),
      'access.log': read('access.log'),
      'audit.log': read('audit.log'),
    };
    // The logs saw the run: one access line per request, audit events for its refusals.
    // (A request the HTTP parser refuses, such as one with a NUL in a header, never reaches the gateway's handler
    // and has no access line.)
    assert.ok(logs['access.log'].split('\n').length > sent.length / 2, 'access lines for the requests');
    assert.ok(
      (logs['audit.log'].match(/"outcome":"failure"/g) ?? []).length > sent.length / 4,
      'refusals audited',
    );
    assert.doesNotMatch(logs['gateway.log'], /"level":50/, 'no error logged');

    const secrets = new Set<string>([
      ALICE_PASSWORD,
      BOB_PASSWORD,
      'guest-password',
      'sam-password',
      'carol-password',
      world.sessions.file,
      world.sessions.ldap,
    ]);
    for (const c of sent) for (const s of c.secrets) if (trackable(s)) secrets.add(s);
    const leaks: string[] = [];
    for (const [file, text] of Object.entries(logs)) {
      for (const s of secrets) if (text.includes(s)) leaks.push(`${file}: ${s.slice(0, 12)}…`);
    }
    assert.ok(secrets.size > sent.length / 3, 'many secrets were tracked');
    assert.deepEqual(leaks.slice(0, 20), [], `${leaks.length} secrets in the logs`);
  });
});
