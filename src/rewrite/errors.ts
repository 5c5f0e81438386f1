/**
 * @module rewrite/errors
 * The one rewrite failure a caller must turn into a response of its own: an encrypted value that does not
 * decrypt. Every other failure just means "this rule did not apply" and is reported through return values.
 */
import { Catalog, GatewayError } from '../errors.ts';

/**
 * A `decrypt-query`/`decrypt` step met a value that was not produced by this topology's key: missing, truncated,
 * tampered with, or encrypted for another topology. The request must be refused with 400; the message never
 * says more than that, so it cannot be used as a decryption oracle.
 */
export class RewriteDecryptError extends GatewayError {
  /** The rule whose step failed. */
  readonly rule: string;
  constructor(rule: string, options?: { cause?: unknown }) {
    const { code, status, message } = Catalog.rewriteDecrypt;
    super(code, status, message, options);
    this.name = 'RewriteDecryptError';
    this.rule = rule;
  }
}
