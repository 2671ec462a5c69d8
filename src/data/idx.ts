import { readFile } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { DataError } from '../errors.js';

// IDX (LeCun's MNIST format): two zero bytes, a dtype code, the number of dimensions, each
// dimension as a big-endian uint32, then the data row-major. We accept unsigned bytes only.

export const IDX_UBYTE = 0x08;
/** Nothing we load is bigger; a gzip member that inflates past it is rejected. */
export const MAX_IDX_BYTES = 1 << 30;

export interface IdxTensor {
  readonly dims: readonly number[];
  /** the payload, a view into the file's bytes */
  readonly data: Uint8Array;
}

/** Validates and slices an IDX buffer; `name` is what errors call it, `ndims` what we expect. */
export function parseIdx(bytes: Uint8Array, name: string, ndims: number): IdxTensor {
  if (bytes.length < 4)
    throw new DataError(`${name}: expected an IDX header of at least 4 bytes, found ${bytes.length}`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(
      `${name}: bad magic: expected 00 00 at the start, found ${hex(bytes[0])} ${hex(bytes[1])}`,
    );
  }
  if (bytes[2] !== IDX_UBYTE) {
    throw new DataError(`${name}: expected dtype code 0x08 (unsigned byte), found ${hex(bytes[2])}`);
  }
  if (bytes[3] !== ndims) throw new DataError(`${name}: expected ${ndims} dimension(s), found ${bytes[3]}`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataError(`${name}: truncated header: expected ${headerBytes} bytes, found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let payload = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) throw new DataError(`${name}: dimension ${i} is 0`);
    dims.push(d);
    payload *= d;
  }
  const expected = headerBytes + payload;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'trailing bytes';
    throw new DataError(
      `${name}: ${what}: dimensions ${dims.join('×')} need ${expected} bytes, found ${bytes.length}`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Reads an IDX file, raw or gzip-compressed (detected by its magic, not its name). */
export async function readIdxFile(path: string, ndims: number): Promise<IdxTensor> {
  let raw: Uint8Array;
  try {
    raw = await readFile(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeIdx(raw, path, ndims);
}

/** Parses IDX bytes, inflating them first when they are gzip. */
export async function decodeIdx(raw: Uint8Array, name: string, ndims: number): Promise<IdxTensor> {
  const bytes =
    raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b ? await inflateBounded(raw, name, ndims) : raw;
  return parseIdx(bytes, name, ndims);
}

/**
 * Inflates a gzip stream, stopping as soon as the output passes the size the IDX header in
 * its first bytes implies (or MAX_IDX_BYTES): a hostile file cannot make us allocate more
 * than the data it claims to hold.
 */
function inflateBounded(raw: Uint8Array, name: string, ndims: number): Promise<Uint8Array> {
  const headerBytes = 4 + 4 * ndims;
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let total = 0;
    let limit = MAX_IDX_BYTES;
    let failed = false;
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      gunzip.destroy();
      reject(new DataError(`${name}: bad gzip data: ${why}`));
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (total < headerBytes && total + chunk.length >= headerBytes) {
        const head = Buffer.concat([...chunks, chunk]);
        let payload = 1;
        for (let i = 0; i < ndims; i++) payload *= head.readUInt32BE(4 + 4 * i);
        // one byte of slack, so "trailing bytes" is reported by the parser with the real sizes
        limit = Math.min(MAX_IDX_BYTES, headerBytes + payload + 1);
      }
      chunks.push(chunk);
      total += chunk.length;
      if (total > limit) fail(`inflates past the ${limit - 1} bytes its IDX header implies`);
    });
    gunzip.on('error', (e) => fail(e.message));
    gunzip.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, total));
    });
    gunzip.end(raw);
  });
}

function hex(b: number | undefined): string {
  return b === undefined ? '(none)' : `0x${b.toString(16).padStart(2, '0')}`;
}
