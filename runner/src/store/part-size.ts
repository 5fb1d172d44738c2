/**
 * S3 multipart uploads allow at most 10,000 parts of at least 5 MiB (the last may be smaller).
 * The runner streams, so it cannot know a stream's final size; it picks the part size from an
 * estimate (pg_database_size for the dump, the media folder's bytes for the archive), with
 * headroom for an estimate that is too low, so a 1 TiB stream still fits.
 */
const MiB = 1024 * 1024;
export const MAX_PARTS = 10_000;
/**
 * S3's own minimum. Memory is part size x (parts in flight + 1) per stream, so for the streams
 * most sets have (under ~36 GiB) a 5 MiB part keeps the S3 backup's process tree under 200 MiB;
 * 8 MiB was 8 MiB more at the peak and no faster (BENCHMARKS.md, peak RSS).
 */
export const MIN_PART_SIZE = 5 * MiB;
/** Parts used for the estimate; the remaining ~25% of the 10,000 absorb an estimate that is low. */
const PLANNED_PARTS = 7_500;

export function choosePartSize(estimatedBytes: number, overrideMiB?: number): number {
  if (overrideMiB !== undefined) return Math.max(5, overrideMiB) * MiB;
  const needed = Math.ceil(Math.max(0, estimatedBytes) / PLANNED_PARTS);
  const rounded = Math.ceil(needed / MiB) * MiB;
  return Math.max(MIN_PART_SIZE, rounded);
}
