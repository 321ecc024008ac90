/** A `proxy_pass` value cut in three: `https://` `[::1]:8443` `/api/`. */
export interface ProxyUrl {
  /** "http://" or "https://" as written; "" when the value has none (a bare variable). */
  scheme: string;
  /** Host and port, an upstream's name, or `unix:/path` (the ':' ending the path is in neither). */
  authority: string;
  uri: string;
}

export function splitProxyUrl(value: string): ProxyUrl {
  const scheme = /^https?:\/\//i.exec(value)?.[0] ?? "";
  const rest = value.slice(scheme.length);
  if (/^unix:/i.test(rest)) {
    const colon = rest.indexOf(":", "unix:".length);
    return colon < 0 ? { scheme, authority: rest, uri: "" } : { scheme, authority: rest.slice(0, colon), uri: rest.slice(colon + 1) };
  }
  const slash = rest.indexOf("/");
  return slash < 0 ? { scheme, authority: rest, uri: "" } : { scheme, authority: rest.slice(0, slash), uri: rest.slice(slash) };
}

export interface Endpoint {
  host?: string;
  port?: number;
  unix?: string;
}

/** `localhost:3000`, `[::1]:8080`, `10.0.0.2` (DEFAULT_PORT), or `unix:/run/app.sock`. */
export function parseEndpoint(authority: string, defaultPort: number): Endpoint {
  if (/^unix:/i.test(authority)) return { unix: authority.slice("unix:".length) };
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
  if (!match) return { host: authority };
  const host = (match[1] ?? "").replace(/^\[(.*)\]$/, "$1");
  return { host, port: match[2] === undefined ? defaultPort : Number(match[2]) };
}
