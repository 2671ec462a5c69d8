import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import Papa from 'papaparse';
import { DataError } from '../errors.js';

// A CSV file as a stream of records, never as a whole text: papaparse (5.7; 7× csv-parse's
// speed on the same file, see FACTS.md) parses chunks of a UTF-8 stream; we hand each record
// to a callback that copies what it needs into typed arrays. A header row is required.
// Rows are numbered from 1, the header not counted, as the messages say.

/** Called with each data row's fields (a reused array: copy what you keep) and its number. */
export type OnRow = (fields: readonly string[], row: number) => void;

/** Bytes looked at to tell the file's line ending (papaparse guesses from its first chunk, quotes and all). */
const SNIFF_BYTES = 1 << 16;

/**
 * Reads `path`'s header, then each data row. A ragged row, an unterminated quote, an empty
 * file, a header without rows, and duplicate or empty column names are DataErrors naming
 * the file and row; so is whatever `onRow` throws (it stops the read).
 */
export async function readCsv(path: string, onHeader: (header: readonly string[]) => void, onRow: OnRow) {
  const newline = lineEnding(path);
  let header: string[] | null = null;
  let row = 0;
  let failure: unknown = null;
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
    stream.on('error', (e) =>
      reject(new DataError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? e.message}`)),
    );
    Papa.parse<string[]>(stream as unknown as File, {
      newline,
      // comma-separated only: papaparse's guess fails on one-field rows and would hide a ragged one
      delimiter: ',',
      skipEmptyLines: true,
      step(result, parser) {
        try {
          if (result.errors.length > 0) {
            const e = result.errors[0];
            throw new DataError(`${path}, row ${row + 1}: ${e.message.toLowerCase()}`);
          }
          const fields = result.data;
          if (header === null) {
            header = checkHeader(path, fields);
            onHeader(header);
            return;
          }
          row++;
          if (fields.length !== header.length)
            throw new DataError(
              `${path}, row ${row}: ${fields.length} fields, but the header has ${header.length}`,
            );
          onRow(fields, row);
        } catch (e) {
          failure = e;
          parser.abort();
          stream.destroy();
        }
      },
      complete: () => resolve(),
      error: (e: Error) => reject(new DataError(`${path}: ${e.message}`)),
    });
  });
  if (failure) throw failure;
  if (header === null) throw new DataError(`${path} is empty: expected a header row and data rows`);
  if (row === 0) throw new DataError(`${path} has a header but no data rows`);
  return { header: header as string[], rows: row };
}

function checkHeader(path: string, fields: string[]): string[] {
  const header = fields.map((f, i) => (i === 0 ? f.replace(/^\uFEFF/, '') : f)); // a byte-order mark is not a name
  const seen = new Set<string>();
  header.forEach((name, i) => {
    if (name.trim() === '')
      throw new DataError(`${path}: header field ${i + 1} is empty; every column needs a name`);
    if (seen.has(name)) throw new DataError(`${path}: column '${name}' appears twice in the header`);
    seen.add(name);
  });
  return header;
}

/** The first line ending outside quotes: \r\n, \n or \r (\n where there is none). */
function lineEnding(path: string): '\r\n' | '\n' | '\r' {
  let fd: number;
  try {
    if (statSync(path).isDirectory()) throw new DataError(`${path} is a directory, not a CSV file`);
    fd = openSync(path, 'r');
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const head = Buffer.alloc(SNIFF_BYTES);
  const n = readSync(fd, head, 0, SNIFF_BYTES, 0);
  closeSync(fd);
  let quoted = false;
  for (let i = 0; i < n; i++) {
    const c = head[i];
    if (c === 0x22) quoted = !quoted;
    else if (!quoted && c === 0x0a) return '\n';
    else if (!quoted && c === 0x0d) return head[i + 1] === 0x0a ? '\r\n' : '\r';
  }
  return '\n';
}
