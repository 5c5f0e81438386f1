/**
 * @module kerberos/keytab
 * Reads the principals a keytab holds (MIT's file format, versions 0x0501 and 0x0502, what `kadmin ktadd` and
 * `ktutil` write), so `postern check` and a deployment can say a keytab does not hold the principal it should
 * without asking the KDC. Only names and key version numbers are read; the keys themselves are skipped.
 */
import { readFileSync } from 'node:fs';

export interface KeytabEntry {
  /** `primary/instance@REALM`. */
  readonly principal: string;
  readonly kvno: number;
  readonly enctype: number;
}

/** The entries of a keytab file's bytes; throws an Error saying what is wrong with a file that is not one. */
export function parseKeytab(bytes: Buffer): KeytabEntry[] {
  if (bytes.length < 2 || bytes[0] !== 0x05 || (bytes[1] !== 0x01 && bytes[1] !== 0x02)) {
    throw new Error('not a keytab (it does not start with the keytab format version 0x0501 or 0x0502)');
  }
  const v1 = bytes[1] === 0x01;
  // Version 1 is in the host's byte order (little-endian everywhere postern runs); version 2 is big-endian.
  const u16 = (at: number) => (v1 ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at));
  const i32 = (at: number) => (v1 ? bytes.readInt32LE(at) : bytes.readInt32BE(at));
  const u32 = (at: number) => (v1 ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  const entries: KeytabEntry[] = [];
  let at = 2;
  while (at + 4 <= bytes.length) {
    const size = i32(at);
    at += 4;
    if (size === 0) break;
    if (size < 0) {
      at += -size; // a hole left by a removed entry
      continue;
    }
    const end = at + size;
    if (end > bytes.length) throw new Error('the keytab is truncated');
    let p = at;
    const octets = () => {
      const n = u16(p);
      p += 2;
      if (p + n > end) throw new Error('the keytab has an entry that does not fit its size');
      const s = bytes.subarray(p, p + n).toString('utf8');
      p += n;
      return s;
    };
    let count = u16(p);
    p += 2;
    if (v1) count -= 1; // version 1 counts the realm as a component
    const realm = octets();
    const components: string[] = [];
    for (let c = 0; c < count; c++) components.push(octets());
    if (!v1) p += 4; // name type
    p += 4; // timestamp
    let kvno = bytes[p];
    p += 1;
    const enctype = u16(p);
    p += 2;
    const keyLength = u16(p);
    p += 2 + keyLength;
    // A 32-bit kvno follows when the entry has room for it (kvno above 255).
    if (p + 4 <= end) {
      const wide = u32(p);
      if (wide !== 0) kvno = wide;
    }
    entries.push({ principal: `${components.join('/')}@${realm}`, kvno, enctype });
    at = end;
  }
  return entries;
}

/** The entries of the keytab file `file` (throws with the system's reason when it cannot be read). */
export function readKeytab(file: string): KeytabEntry[] {
  return parseKeytab(readFileSync(file));
}
