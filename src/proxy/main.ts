/** The bundled daemon file's entry (dist/proxy/daemon.mjs): `node daemon.mjs --listen … --state …`. */
import { DeployError } from "../errors.js";
import { parseServeArgs, serve } from "./serve.js";

try {
  await serve(parseServeArgs(process.argv.slice(2)));
} catch (error) {
  if (!(error instanceof DeployError)) throw error;
  process.stderr.write(`deploy-vps-proxy: ${error.message}\n`);
  process.exitCode = error.exitCode;
}
