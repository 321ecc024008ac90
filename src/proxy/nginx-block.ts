import { InputError } from "../errors.js";
import { type Address, formatAddress } from "./serve-options.js";

/** A name nginx's `server_name` matches exactly, or `*.example.com`. */
const HOST_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkHostName(host: string): string {
  const name = host.toLowerCase();
  if (name.length > 253 || !HOST_NAME.test(name))
    throw new InputError(`'${host}' is not a host name (letters, digits, '-' and '.', or *.example.com).`);
  return name;
}

/** nginx's `listen`: a port, or ADDRESS:PORT. */
export function checkListen(value: string): string {
  const match = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(value);
  const port = Number(match?.[1]);
  if (!match || port < 1 || port > 65535) throw new InputError(`--listen takes a port or ADDRESS:PORT (e.g. 80, 127.0.0.1:8080), got '${value}'.`);
  return value;
}

/**
 * What a location needs to send its requests through the proxy, besides `proxy_pass`. Streams
 * pass through as they come (websockets, SSE, uploads): no buffering either way, `Connection`
 * passed on as the client sent it (so no `map` block is needed), and a read timeout long enough
 * for an idle websocket or a cold start. The proxy routes by `Host`, so it must be the client's.
 */
export const PROXY_LOCATION_DIRECTIVES: readonly (readonly string[])[] = [
  ["proxy_http_version", "1.1"],
  ["proxy_set_header", "Host", "$host"],
  ["proxy_set_header", "X-Real-IP", "$remote_addr"],
  ["proxy_set_header", "X-Forwarded-For", "$proxy_add_x_forwarded_for"],
  ["proxy_set_header", "X-Forwarded-Proto", "$scheme"],
  ["proxy_set_header", "X-Forwarded-Host", "$host"],
  ["proxy_set_header", "Upgrade", "$http_upgrade"],
  ["proxy_set_header", "Connection", "$http_connection"],
  ["proxy_buffering", "off"],
  ["proxy_request_buffering", "off"],
  ["proxy_connect_timeout", "5s"],
  ["proxy_send_timeout", "1h"],
  ["proxy_read_timeout", "1h"],
];

/** The server block that sends HOSTS to the proxy. */
export function nginxBlock(hosts: string[], listen: string, proxy: Address): string {
  const directives = PROXY_LOCATION_DIRECTIVES.map((words) => `        ${words.join(" ")};\n`).join("");
  return `# Sends ${hosts.join(", ")} to the deploy-vps runtime proxy (deploy-vps proxy nginx).
server {
    listen ${listen};
    server_name ${hosts.join(" ")};

    location / {
        proxy_pass http://${formatAddress(proxy)};
${directives}    }
}
`;
}
