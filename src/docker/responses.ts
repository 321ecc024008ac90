/**
 * The Engine API's answers, checked once at the edge: what the calls return is typed, and an
 * answer of another shape is a clear error naming the call and the field, never a crash later.
 */

/** A field that is not what the Engine's API documents. */
export class AnswerShapeError extends Error {}

/** One container as /containers/json lists it. */
export interface ContainerSummary {
  id: string;
  /** With the leading slash Docker gives them ("/shop-web-1"). */
  names: string[];
  /** created, running, paused, restarting, removing, exited or dead. */
  state: string;
  /** Human words: "Up 2 minutes", "Exited (0) 3 seconds ago". */
  status: string;
  labels: Record<string, string>;
  /** Seconds since the epoch. */
  created: number;
}

export interface EngineVersion {
  version: string;
  apiVersion: string;
}

export interface EngineInfo {
  serverVersion: string;
}

type Json = unknown;

function object(value: Json, where: string): Record<string, Json> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new AnswerShapeError(`${where} is not an object`);
  return value as Record<string, Json>;
}

function string(record: Record<string, Json>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== "string") throw new AnswerShapeError(`${where}.${key} is not a string`);
  return value;
}

function number(record: Record<string, Json>, key: string, where: string): number {
  const value = record[key];
  if (typeof value !== "number" || !Number.isFinite(value)) throw new AnswerShapeError(`${where}.${key} is not a number`);
  return value;
}

/** Docker gives `null` for no labels or no names; both read as empty. */
function strings(record: Record<string, Json>, key: string, where: string): string[] {
  const value = record[key] ?? [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw new AnswerShapeError(`${where}.${key} is not a list of strings`);
  return value;
}

function labels(record: Record<string, Json>, key: string, where: string): Record<string, string> {
  const value = record[key] ?? {};
  const map = object(value, `${where}.${key}`);
  for (const [name, text] of Object.entries(map)) {
    if (typeof text !== "string") throw new AnswerShapeError(`${where}.${key}["${name}"] is not a string`);
  }
  return map as Record<string, string>;
}

export function parseVersion(body: Json): EngineVersion {
  const record = object(body, "the answer");
  return { version: string(record, "Version", "the answer"), apiVersion: string(record, "ApiVersion", "the answer") };
}

export function parseInfo(body: Json): EngineInfo {
  const record = object(body, "the answer");
  return { serverVersion: string(record, "ServerVersion", "the answer") };
}

export function parseContainers(body: Json): ContainerSummary[] {
  if (!Array.isArray(body)) throw new AnswerShapeError("the answer is not a list");
  return body.map((item: Json, index) => {
    const where = `container [${index}]`;
    const record = object(item, where);
    return {
      id: string(record, "Id", where),
      names: strings(record, "Names", where),
      state: string(record, "State", where),
      status: string(record, "Status", where),
      labels: labels(record, "Labels", where),
      created: number(record, "Created", where),
    };
  });
}
