/**
 * Every failure the user can act on is a DeployError: one line, an exit code, no stack trace.
 * Anything else that escapes is a bug and is shown with its stack.
 */
export const ExitCode = {
  ok: 0,
  /** The environment failed us: network, SSH, server, Docker. */
  failed: 1,
  /** Bad usage, configuration or input: nothing on the server was changed. */
  input: 2,
  /** Deployed, but a service crash-loops or is unhealthy. */
  unhealthy: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class DeployError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad usage, configuration or input (exit 2). */
export class InputError extends DeployError {
  constructor(message: string) {
    super(message, ExitCode.input);
  }
}

/** The network, the server or Docker failed (exit 1). */
export class EnvironmentError extends DeployError {
  constructor(message: string) {
    super(message, ExitCode.failed);
  }
}

/** `file:line:col: message`, the form editors and terminals make clickable. */
export function atPosition(file: string, line: number, col: number, message: string): string {
  return `${file}:${line}:${col}: ${message}`;
}
