import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file so that readers see the old bytes or the new ones, never a torn mix: a temp
 * file in the same folder, fsync, rename over the target, fsync the folder. A target that
 * exists and is not a regular file (/dev/null, a FIFO) is written in place: renaming over it
 * would replace the device itself.
 */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const existing = statSync(path, { throwIfNoEntry: false });
  if (existing && !existing.isFile() && !existing.isDirectory()) {
    writeInPlace(path, chunks);
    return;
  }
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeAll(fd, chunks);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

function writeInPlace(path: string, chunks: readonly Uint8Array[]): void {
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, chunks);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, chunks: readonly Uint8Array[]): void {
  for (const chunk of chunks) {
    let off = 0;
    while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
  }
}
