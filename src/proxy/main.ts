/** The bundled daemon file's entry (dist/proxy/daemon.mjs): `node daemon.mjs --listen … --state …`. */
import { DeployError } from "../errors.js";
import { serve } from "./serve.js";
import { parseServeArgs } from "./serve-options.js";

try {
  await serve(parseServeArgs(process.argv.slice(2)));
} catch (error) {
  if (!(error instanceof DeployError)) throw error;
  process.stderr.write(`deploy-vps-proxy: ${error.message}\n`);
  process.exitCode = error.exitCode;
}
