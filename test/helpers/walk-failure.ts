// What a walk (directory-walk.ts, worker-walk.ts) threw, as its consumer sees it: the fs error's
// fields, comparable between the two walks; or, when it did not fail, how many entries it yielded.
import type { WalkedEntry } from "../../runner/src/archive/directory-walk.js";

export interface WalkFailure {
  entries?: number;
  isError?: boolean;
  message?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export async function failureOf(walk: AsyncGenerator<WalkedEntry[]>): Promise<WalkFailure> {
  let entries = 0;
  try {
    for await (const batch of walk) entries += batch.length;
    return { entries };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return {
      isError: e instanceof Error,
      message: e.message,
      code: e.code,
      errno: e.errno,
      syscall: e.syscall,
      path: e.path,
    };
  }
}
