// A child process for test/runner/worker-walk.test.ts, for what needs a process of its own: a walk
// as another user (an unreadable folder: root reads every folder), and a walk its consumer leaves
// unfinished without stopping it (the process must still be able to exit).
//   node --import tsx walk-both.ts errors DIR   prints {"old": failure, "worker": failure}
//   node --import tsx walk-both.ts abandon DIR  takes one batch, leaves the walk as it is, prints "left"
import { walkTreeBatches } from "../../runner/src/archive/directory-walk.js";
import { walkTreeInWorker } from "../../runner/src/archive/worker-walk.js";
import { failureOf } from "./walk-failure.js";

async function main(): Promise<void> {
  const [mode, dir] = process.argv.slice(2);
  if (mode === "errors") {
    const old = await failureOf(walkTreeBatches(dir!));
    const worker = await failureOf(walkTreeInWorker(dir!, {}, { chunkEntries: 2, chunkBytes: 1000, credit: 1 }));
    process.stdout.write(JSON.stringify({ old, worker }));
  } else if (mode === "abandon") {
    const walk = walkTreeInWorker(dir!, {}, { chunkEntries: 2, chunkBytes: 1000, credit: 1 });
    await walk.next();
    process.stdout.write("left");
  } else throw new Error(`unknown mode ${mode}`);
}

void main();
