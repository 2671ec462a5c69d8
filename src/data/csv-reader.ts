import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import Papa from 'papaparse';
import { DataError } from '../errors.js';

// A CSV file as a stream of records, never as a whole text: papaparse (5.7; 7× csv-parse's
// speed on the same file, see FACTS.md) parses chunks of a UTF-8 stream; we hand each record
// to a callback that copies what it needs into typed arrays. A header row is required.
// Rows are numbered from 1, the header not counted and blank lines counted, so "row N" is
// the Nth record after the header as an editor shows it (a quoted line break stays in its row).

/**
 * Called with each data row's fields (a reused array: copy what you keep), its index among
 * the data rows (from 0, blank lines not counted) and its number in messages.
 */
export type OnRow = (fields: readonly string[], index: number, row: number) => void;

/** Bytes looked at to tell the file's line ending (papaparse guesses from its first chunk, quotes and all). */
const SNIFF_BYTES = 1 << 16;

/** A UTF-8 byte-order mark, skipped when the stream opens (papaparse would read it into the first field). */
const BOM = [0xef, 0xbb, 0xbf];

const ONE_EMPTY_FIELD: readonly string[] = [''];

/**
 * Reads `path`'s header, then each data row. A ragged row, an unterminated quote, an empty
 * file, a header without rows, and duplicate or empty column names are DataErrors naming
 * the file and row; so is whatever `onRow` throws (it stops the read). A blank line is no
 * row of a file of several columns (its number is used, though); in a file of one column it
 * is a row with an empty field, unless only blank lines follow it. With `expectRows`, the
 * count an earlier pass read, a file that now holds other rows changed in between: a DataError.
 */
export async function readCsv(
  path: string,
  onHeader: (header: readonly string[]) => void,
  onRow: OnRow,
  expectRows?: number,
) {
  const { newline, bom } = sniff(path);
  let header: string[] | null = null;
  let index = 0;
  let row = 0;
  let blanks = 0; // blank lines not yet followed by a row: trailing ones are not rows
  let failure: unknown = null;
  const changed = (what: string) =>
    new DataError(`${path} changed while it was read: ${what} (write the file first, then train or predict)`);
  const deliver = (fields: readonly string[]) => {
    if (expectRows !== undefined && index >= expectRows)
      throw changed(`it has more than the ${expectRows} rows the first pass read`);
    onRow(fields, index++, row);
  };
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20, start: bom ? 3 : 0 });
    stream.on('error', (e) =>
      reject(new DataError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? e.message}`)),
    );
    Papa.parse<string[]>(stream as unknown as File, {
      newline,
      // comma-separated only: papaparse's guess fails on one-field rows and would hide a ragged one
      delimiter: ',',
      // blank lines are counted (and in a one-column file, read) below
      skipEmptyLines: false,
      step(result, parser) {
        try {
          if (result.errors.length > 0) {
            const e = result.errors[0];
            throw new DataError(`${path}, row ${row + blanks + 1}: ${e.message.toLowerCase()}`);
          }
          const fields = result.data;
          // a CRLF line in a file whose first line ends in LF: its \r is no part of the last field
          const last = fields.length - 1;
          if (newline === '\n' && fields[last].endsWith('\r')) fields[last] = fields[last].slice(0, -1);
          const blank = last === 0 && fields[0] === '';
          if (header === null) {
            if (blank) return; // blank lines before the header
            header = checkHeader(path, fields);
            onHeader(header);
            return;
          }
          if (blank) {
            blanks++;
            return;
          }
          for (; blanks > 0; blanks--) {
            row++;
            if (header.length === 1) deliver(ONE_EMPTY_FIELD);
          }
          row++;
          if (fields.length !== header.length)
            throw new DataError(
              `${path}, row ${row}: ${fields.length} fields, but the header has ${header.length}`,
            );
          deliver(fields);
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
  if (index === 0) throw new DataError(`${path} has a header but no data rows`);
  if (expectRows !== undefined && index !== expectRows)
    throw changed(`${index} rows now, ${expectRows} when the first pass read it`);
  return { header: header as string[], rows: index };
}

function checkHeader(path: string, fields: string[]): string[] {
  const header = [...fields];
  const seen = new Set<string>();
  header.forEach((name, i) => {
    if (name.trim() === '')
      throw new DataError(`${path}: header field ${i + 1} is empty; every column needs a name`);
    if (seen.has(name)) throw new DataError(`${path}: column '${name}' appears twice in the header`);
    seen.add(name);
  });
  return header;
}

/**
 * Whether the file starts with a UTF-8 byte-order mark, and its first line ending outside
 * quotes: \r\n, \n or \r (\n where there is none).
 */
function sniff(path: string): { newline: '\r\n' | '\n' | '\r'; bom: boolean } {
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
  const bom = n >= 3 && BOM.every((b, i) => head[i] === b);
  let quoted = false;
  for (let i = bom ? 3 : 0; i < n; i++) {
    const c = head[i];
    if (c === 0x22) quoted = !quoted;
    else if (!quoted && c === 0x0a) return { newline: '\n', bom };
    else if (!quoted && c === 0x0d) return { newline: head[i + 1] === 0x0a ? '\r\n' : '\r', bom };
  }
  return { newline: '\n', bom };
}
