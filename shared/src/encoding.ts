/**
 * Byte helpers that work the same in Node, browsers and web views (no Buffer, no DOM types):
 * UTF-8, base64, hex, CRC-32.
 */

export function utf8Encode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    let cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // lone surrogate
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return Uint8Array.from(out);
}

/** The runtime's TextDecoder where there is one (Node, browsers, most web views); typed here
 * because this package compiles without DOM or Node types. */
const nativeUtf8 = (
  globalThis as {
    TextDecoder?: new (
      label: 'utf-8',
      options: { ignoreBOM: boolean },
    ) => { decode(bytes: Uint8Array): string };
  }
).TextDecoder;
// ignoreBOM: keep a leading U+FEFF as the portable decoder does (JSON.parse then refuses it).
const nativeDecoder = nativeUtf8 ? new nativeUtf8('utf-8', { ignoreBOM: true }) : undefined;

/**
 * Decodes UTF-8 as the WHATWG Encoding standard (and TextDecoder) does: malformed → U+FFFD. Uses
 * the native decoder when the runtime has one: on the cloud's MQTT path the portable loop below
 * cost ~14 µs per 400-byte telemetry window, the native one ~0.6 µs.
 */
export function utf8Decode(bytes: Uint8Array): string {
  return nativeDecoder ? nativeDecoder.decode(bytes) : utf8DecodePortable(bytes);
}

/** `utf8Decode` without TextDecoder, for runtimes that lack it. */
export function utf8DecodePortable(bytes: Uint8Array): string {
  const out: number[] = [];
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (needed === 0) {
      if (b <= 0x7f) out.push(b);
      else if (b >= 0xc2 && b <= 0xdf) {
        needed = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
        cp = b & 0xf;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        cp = b & 0x7;
      } else out.push(0xfffd);
      continue;
    }
    if (b < lower || b > upper) {
      needed = seen = cp = 0;
      lower = 0x80;
      upper = 0xbf;
      out.push(0xfffd);
      i--; // reprocess this byte as the start of a new sequence
      continue;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen === needed) {
      out.push(cp);
      needed = seen = cp = 0;
    }
  }
  if (needed !== 0) out.push(0xfffd);
  let text = '';
  for (let i = 0; i < out.length; i += 4096) text += String.fromCodePoint(...out.slice(i, i + 4096));
  return text;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1] ?? 0;
    const c = bytes[i + 2] ?? 0;
    const n = (a << 16) | (b << 8) | c;
    out += B64[(n >> 18) & 63];
    out += B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return out;
}

/**
 * Whether `text` is canonical padded base64. A loop, not a regular expression: a repeated-group
 * pattern overflows V8's regexp stack on multi-megabyte strings (a model file upload).
 */
export function isBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  for (let i = 0; i < text.length - padding; i++) {
    if ((B64_INDEX[text.charCodeAt(i)] ?? -1) < 0) return false;
  }
  return true;
}

/** Decodes canonical padded base64; throws on anything else. */
export function base64Decode(text: string): Uint8Array {
  if (!isBase64(text)) throw new Error('invalid base64');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const n =
      ((B64_INDEX[text.charCodeAt(i)] ?? 0) << 18) |
      ((B64_INDEX[text.charCodeAt(i + 1)] ?? 0) << 12) |
      (Math.max(0, B64_INDEX[text.charCodeAt(i + 2)] ?? 0) << 6) |
      Math.max(0, B64_INDEX[text.charCodeAt(i + 3)] ?? 0);
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

export function hexEncode(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function hexDecode(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error('invalid hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib): the per-chunk checksum of artifact chunks. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (CRC_TABLE[(c ^ (bytes[i] ?? 0)) & 255] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
