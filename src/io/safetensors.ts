// safetensors (huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then
// the raw little-endian tensor bytes. We write F32 only and read strictly: the header
// is checked against the file before any tensor is touched, so a hostile file can neither
// run code nor make us allocate more than its own size.

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export class SafetensorsError extends Error {}

/** Header size cap (the format's reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export function encodeSafetensors(
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Record<string, string>,
): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new RangeError(`${name}: shape ${t.shape.join('×')} does not hold ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so tensor data starts 8-byte aligned, as the format recommends.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  const chunks: Uint8Array[] = [prefix, headerBytes];
  for (const t of tensors.values()) chunks.push(littleEndianBytes(t.data));
  return chunks;
}

export interface DecodedSafetensors {
  readonly tensors: Map<string, Tensor>;
  readonly metadata: Record<string, string>;
}

export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  if (bytes.length < 8)
    throw new SafetensorsError(`file of ${bytes.length} bytes is too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw new SafetensorsError(`header length ${n} exceeds the ${bytes.length - 8} bytes after it`);
  }
  const headerLength = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (e) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError('header is not a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, Tensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new SafetensorsError('__metadata__ is not an object');
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null)
      throw new SafetensorsError(`tensor ${name}: entry is not an object`);
    if (e.dtype !== 'F32')
      throw new SafetensorsError(`tensor ${name}: dtype ${String(e.dtype)}, expected F32`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`tensor ${name}: shape is not a list of non-negative integers`);
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1] ||
      offsets[1] > dataLength
    ) {
      throw new SafetensorsError(`tensor ${name}: data_offsets out of range (data is ${dataLength} bytes)`);
    }
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (offsets[1] - offsets[0] !== count * 4) {
      throw new SafetensorsError(
        `tensor ${name}: ${offsets[1] - offsets[0]} bytes, but shape ${(e.shape as number[]).join('×')} × F32 needs ${count * 4}`,
      );
    }
    ranges.push([offsets[0], offsets[1], name]);
    tensors.set(name, {
      shape: e.shape as number[],
      data: readFloat32(bytes, dataStart + offsets[0], count),
    });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1])
      throw new SafetensorsError(`tensors ${ranges[i - 1][2]} and ${ranges[i][2]} overlap`);
  }

  // As the format's reference reader does: the tensors must cover the data exactly.
  let covered = 0;
  for (const [begin, end, name] of ranges) {
    if (begin !== covered)
      throw new SafetensorsError(
        `data has ${begin - covered} bytes before tensor ${name} that no tensor covers`,
      );
    covered = end;
  }
  if (covered !== dataLength)
    throw new SafetensorsError(`${dataLength - covered} trailing bytes after the last tensor`);
  return { tensors, metadata };
}

function littleEndianBytes(data: Float32Array): Uint8Array {
  if (isLittleEndian) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  return out;
}

function readFloat32(bytes: Uint8Array, at: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (isLittleEndian) {
    new Uint8Array(out.buffer).set(bytes.subarray(at, at + count * 4));
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset + at, count * 4);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  }
  return out;
}

const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
