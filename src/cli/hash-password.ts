/**
 * @module cli/hash-password
 * `postern hash-password`: reads a password from standard input and prints its scrypt hash for the users file of
 * `postern.FileRealm` (see providers/authentication/shiro/file-realm.ts). The password is read from a pipe
 * (`printf %s "$PW" | postern hash-password`, one trailing newline is dropped) or typed at a terminal without
 * echo; it never appears in the command line or the output.
 */
import { hashPassword } from '../providers/authentication/shiro/password-hash.ts';

export async function readPiped(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function readTyped(
  stdin: NodeJS.ReadStream,
  stderr: NodeJS.WriteStream,
  prompt = 'Password: ',
): Promise<string> {
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer) => {
      for (const c of chunk.toString('utf8')) {
        if (c === '\r' || c === '\n') return done();
        if (c === '\u0003') return done(new Error('interrupted'));
        if (c === '\u007f' || c === '\b') text = text.slice(0, -1);
        else text += c;
      }
    };
    stdin.on('data', onData);
  });
}

export async function runHashPassword(
  io: { stdin: NodeJS.ReadStream; stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream } = process,
): Promise<number> {
  const password = io.stdin.isTTY ? await readTyped(io.stdin, io.stderr) : await readPiped(io.stdin);
  if (password === '') {
    io.stderr.write('postern hash-password: the password is empty\n');
    return 1;
  }
  io.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}
