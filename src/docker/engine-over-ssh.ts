import { type Remote, SocketRefused } from "../ssh/connection.js";
import { DOCKER_SOCKET, Engine } from "./engine.js";
import { EngineUnreachable } from "./transport.js";

/**
 * The Engine on the server, reached through the SSH connection (no docker command started).
 * Apart from engine.ts so that the daemon's bundle, which only dials its local socket, carries no SSH.
 */
export function engineOverSsh(remote: Remote, socket = DOCKER_SOCKET): Engine {
  return new Engine(async () => {
    try {
      return await remote.openSocket(socket);
    } catch (error) {
      if (error instanceof SocketRefused) throw new EngineUnreachable(socket, error.reason);
      throw error;
    }
  }, socket);
}
