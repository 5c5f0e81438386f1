/**
 * @module cli/knox-cli-io
 * What every `postern cli` command shares: the streams it talks on, the one-line failure it ends with, and how a
 * secret is read (standard input or a prompt without echo, never the command line unless given there).
 */
import { readPiped, readTyped } from './hash-password.ts';

export interface Io {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
}

/** A failure the command reports as one line and exit status 1. */
export class CliError extends Error {}

export async function readSecret(io: Io, prompt: string): Promise<string> {
  const value = io.stdin.isTTY ? await readTyped(io.stdin, io.stderr, prompt) : await readPiped(io.stdin);
  if (value === '') throw new CliError('the value is empty');
  return value;
}
