import { setFlagsFromString } from "node:v8";

/*
 * Imported first by the CLI, before the modules it loads. Reading a project, most of what is
 * made survives (one object per file), and V8 answers by doubling its young generation up to
 * 32 MB, which it then keeps for the whole run: at 50,000 files, 30 MB of the CLI's memory. The
 * young generation keeps its first size instead: V8 reads this flag whenever it would grow it.
 * On node's command line V8 raises a growth factor of 1 to its minimum, 2; set at run time, 1
 * holds (test/unit/memory checks it on each Node that CI runs). Were a V8 to stop honouring it,
 * the CLI would only take those 30 MB again. Collections come a little more often; a deploy
 * does not wait on them (npm run bench).
 */
export const YOUNG_GENERATION_FLAG = "--semi-space-growth-factor=1";
setFlagsFromString(YOUNG_GENERATION_FLAG);
