import { open, readFile, rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Pin } from "./live.js";
import type { UnitState } from "./model.js";

/**
 * What the daemon keeps across a restart or a `kill -9`: per unit, its idle clock, its last start
 * durations and its memory, so that a restart neither stops nor starts anything by itself. The file
 * is replaced whole (temporary file, fsync, rename): it is always the last state or the one before.
 */

export interface SavedUnit {
  lastActivityAt: number | null;
  /** The last start durations, newest last. */
  startsMs: number[];
  /** Measured while it ran: what sleeping frees. */
  memoryBytes: number | null;
  state: UnitState;
  since: number;
  /** The container the last blue-green switch made live, until it is destroyed (absent: the oldest running one). */
  pin?: Pin;
}

export interface SavedState {
  version: 1;
  /** By route name. */
  units: Record<string, SavedUnit>;
  /** Each container's last start durations (start to ready), newest last, by container name: a wake plan's estimates. */
  containers?: Record<string, number[]>;
}

export function emptySavedState(): SavedState {
  return { version: 1, units: {} };
}

const UNIT_STATES: readonly UnitState[] = ["sleeping", "starting", "ready", "stopping", "failed", "disabled"];

/**
 * The saved state, or an empty one: missing is a first run; unreadable, corrupt or of another
 * shape gets a warning naming the file, and the daemon goes on from nothing rather than not at all.
 */
export async function readSavedState(path: string): Promise<{ state: SavedState; warning?: string }> {
  const fresh = (why: string) => ({ state: emptySavedState(), warning: `${path}: ${why}; starting with no saved state` });
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (isErrnoException(error) && error.code === "ENOENT") return { state: emptySavedState() };
    return fresh(`cannot be read (${error instanceof Error ? error.message : String(error)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fresh(`not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const state = savedStateOf(value);
  return typeof state === "string" ? fresh(state) : { state };
}

/** The state, with only the fields it knows, or what is wrong with it. */
function savedStateOf(value: unknown): SavedState | string {
  if (!isRecord(value) || value.version !== 1) return "not a version 1 state file";
  if (!isRecord(value.units)) return "units is not an object";
  const units: Record<string, SavedUnit> = {};
  for (const [name, unit] of Object.entries(value.units)) {
    const saved = savedUnitOf(unit);
    if (typeof saved === "string") return `unit ${JSON.stringify(name)}: ${saved}`;
    units[name] = saved;
  }
  if (value.containers === undefined) return { version: 1, units };
  if (!isRecord(value.containers)) return "containers is not an object";
  const containers: Record<string, number[]> = {};
  for (const [name, startsMs] of Object.entries(value.containers)) {
    if (!Array.isArray(startsMs) || !startsMs.every(isTime)) return `container ${JSON.stringify(name)}: not a list of durations`;
    containers[name] = startsMs;
  }
  return { version: 1, units, containers };
}

function savedUnitOf(unit: unknown): SavedUnit | string {
  if (!isRecord(unit)) return "not an object";
  const { lastActivityAt, startsMs, memoryBytes, state, since, pin } = unit;
  if (lastActivityAt !== null && !isTime(lastActivityAt)) return "lastActivityAt is not a time";
  if (!Array.isArray(startsMs) || !startsMs.every(isTime)) return "startsMs is not a list of durations";
  if (memoryBytes !== null && !isTime(memoryBytes)) return "memoryBytes is not a size";
  const known = UNIT_STATES.find((s) => s === state);
  if (known === undefined) return `state ${JSON.stringify(state)} is not one of ${UNIT_STATES.join(", ")}`;
  if (!isTime(since)) return "since is not a time";
  const saved: SavedUnit = { lastActivityAt, startsMs, memoryBytes, state: known, since };
  if (pin === undefined) return saved;
  if (!isRecord(pin) || typeof pin.id !== "string" || pin.id === "" || !isPort(pin.port)) return "pin is not a container id and a port";
  return { ...saved, pin: { id: pin.id, port: pin.port } };
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && typeof value === "number" && value >= 1 && value <= 65_535;
}

/** A non-negative finite number: times, durations and sizes alike. */
function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && "code" in error;
}

/** In the same folder as the file it replaces, so that the rename stays on one filesystem. */
export function temporaryPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp`);
}

/**
 * Replaces the file whole: a crash at any point leaves the old file or the new one, never a mix.
 * The folder is synced too, or the rename itself could be lost to a power cut.
 */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  const temporary = temporaryPathOf(path);
  const file = await open(temporary, "w", 0o600);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  const folder = await open(dirname(path), "r");
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/**
 * Saves the state file, one write at a time: a save asked for while one is being written waits for
 * it, and the saves asked for meanwhile coalesce into one write of the last of them. Each save's
 * promise settles once its state, or a later one, is on disk (or that write failed).
 */
export class StateWriter {
  private writing: Promise<void> | null = null;
  private next: { state: SavedState; written: Promise<void> } | null = null;

  /** `write` is the atomic write; the tests give another to watch the coalescing. */
  constructor(
    private readonly path: string,
    private readonly write: (path: string, text: string) => Promise<void> = writeFileAtomically,
  ) {}

  save(state: SavedState): Promise<void> {
    if (this.next !== null) {
      this.next.state = state;
      return this.next.written;
    }
    if (this.writing === null) return this.begin(state);
    const next = { state, written: Promise.resolve() };
    const after = () => {
      this.next = null;
      return this.begin(next.state);
    };
    next.written = this.writing.then(after, after);
    this.next = next;
    return next.written;
  }

  private begin(state: SavedState): Promise<void> {
    const writing = this.write(this.path, `${JSON.stringify(state)}\n`).finally(() => {
      if (this.writing === writing) this.writing = null;
    });
    this.writing = writing;
    return writing;
  }
}
